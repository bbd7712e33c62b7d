//! Residents' payments in the app, many to one transaction, each exactly once: claim the
//! idempotency keys, check the PINs, make the payments and store every answer, in a handful of
//! set-based statements whatever the batch's size. The writers in `group_commit` gather the
//! batches and commit them; this module owns what happens inside the transaction and never
//! commits.
//!
//! The order inside the transaction is the order a lone payment had: a key used before
//! answers what it answered then (even if the PIN has been locked since); a wrong PIN is
//! counted once per key, however often the request is retried; a refusal is remembered under
//! its key in the same transaction as the PIN count it caused.

use super::error::ApiError;
use super::idempotent::refusal_body;
use crate::auth::{self, AuthError, PinPolicy};
use crate::db::Tx;
use crate::idempotency::{self, IdempotencyError, IdempotencyKey, StoredResponse};
use crate::ledger::{self, PaymentChannel, PaymentInput};
use crate::programme::Programme;
use axum::http::StatusCode;
use chiiki_core::Yen;
use chiiki_core::protocol::PaymentReceipt;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// One resident's payment request, parsed and authenticated, with its PIN still to check.
#[derive(Debug, Clone)]
pub struct PaymentJob {
    pub key: IdempotencyKey,
    pub resident_id: i64,
    pub store_id: i64,
    pub amount: Yen,
    pub use_points: bool,
    pub pin: String,
}

/// What a payment request came to.
#[derive(Debug, Clone)]
pub struct Paid {
    /// The answer for the client (also stored under the key).
    pub response: StoredResponse,
    /// The receipt of a payment made by this very request (not of a replay), for the store's
    /// live feed.
    pub receipt: Option<PaymentReceipt>,
}

/// What every payment of a batch is checked against.
pub struct Rules<'a> {
    pub programme: &'a Programme,
    pub pin_pepper: [u8; 32],
    pub pin_policy: PinPolicy,
    pub now: DateTime<Utc>,
}

/// Where one job's answer comes from.
enum Source {
    /// The first job with its key: it does the work.
    Leader,
    /// The same key again in the same batch (a request delivered twice at once): the leader's
    /// answer, or a conflict if the request differs.
    Follower(usize),
}

/// Runs `jobs` inside `tx` without committing. Per job, its answer; an `Err` answer is one
/// not to remember (a key reused for another request). The outer error means the transaction
/// failed: nothing of it may be committed, and every job gets a server error (clients retry
/// with the same keys).
pub async fn apply(
    tx: &mut Tx,
    jobs: &[PaymentJob],
    rules: &Rules<'_>,
) -> Result<Vec<Result<Paid, ApiError>>, ApiError> {
    let sources: Vec<Source> = (0..jobs.len())
        .map(
            |i| match (0..i).find(|&j| jobs[j].key.same_key(&jobs[i].key)) {
                Some(j) => Source::Follower(j),
                None => Source::Leader,
            },
        )
        .collect();
    let leaders: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(sources[i], Source::Leader))
        .collect();
    let keys: Vec<&IdempotencyKey> = leaders.iter().map(|&i| &jobs[i].key).collect();
    let claims = idempotency::claim_many(tx, &keys, rules.now).await?;

    let mut answers: Vec<Option<Result<Paid, ApiError>>> = jobs.iter().map(|_| None).collect();
    let mut fresh: Vec<usize> = Vec::with_capacity(leaders.len());
    for (&i, claim) in leaders.iter().zip(claims) {
        match claim {
            Ok(None) => fresh.push(i),
            Ok(Some(previous)) => answers[i] = Some(Ok(replayed(previous))),
            Err(IdempotencyError::Conflict) => {
                answers[i] = Some(Err(IdempotencyError::Conflict.into()))
            }
            Err(e) => return Err(e.into()),
        }
    }

    let (payable, mut refused) = check_pins(tx, jobs, &fresh, rules).await?;
    let inputs: Vec<PaymentInput<'_>> = payable
        .iter()
        .map(|&i| PaymentInput {
            resident_id: jobs[i].resident_id,
            store_id: jobs[i].store_id,
            amount: jobs[i].amount,
            use_points: jobs[i].use_points,
            programme: rules.programme,
            channel: PaymentChannel::ResidentApp,
        })
        .collect();
    let made = if inputs.is_empty() {
        Vec::new()
    } else {
        ledger::pay_many(tx, &inputs, rules.now).await?
    };
    let mut completed: Vec<(usize, StoredResponse, Option<i64>)> = Vec::with_capacity(fresh.len());
    for (&i, outcome) in payable.iter().zip(made) {
        match outcome {
            Ok(receipt) => {
                let body = serde_json::to_string(&receipt).map_err(ApiError::internal)?;
                let response = StoredResponse {
                    status: StatusCode::CREATED.as_u16(),
                    body,
                };
                completed.push((i, response.clone(), Some(receipt.payment_id)));
                answers[i] = Some(Ok(Paid {
                    response,
                    receipt: Some(receipt),
                }));
            }
            Err(why) => refused.push((i, ApiError::from(why))),
        }
    }
    for (i, why) in refused {
        if !why.status.is_client_error() {
            // Not the request's fault: retrying may succeed, so nothing is remembered.
            return Err(why);
        }
        let response = refusal_body(&why);
        completed.push((i, response.clone(), None));
        answers[i] = Some(Ok(replayed(response)));
    }
    let done: Vec<(&IdempotencyKey, &StoredResponse, Option<i64>)> = completed
        .iter()
        .map(|(i, response, operation)| (&jobs[*i].key, response, *operation))
        .collect();
    if !done.is_empty() {
        idempotency::complete_many(tx, &done).await?;
    }

    let mut out = Vec::with_capacity(jobs.len());
    for (i, source) in sources.iter().enumerate() {
        let answer = match source {
            Source::Leader => answers[i].take(),
            Source::Follower(leader) if jobs[*leader].key != jobs[i].key => {
                Some(Err(IdempotencyError::Conflict.into()))
            }
            Source::Follower(leader) => {
                out.get(*leader)
                    .map(|answer: &Result<Paid, ApiError>| match answer {
                        Ok(paid) => Ok(replayed(paid.response.clone())),
                        Err(e) => Err(e.clone()),
                    })
            }
        };
        out.push(answer.unwrap_or_else(|| Err(ApiError::internal("a payment got no answer"))));
    }
    Ok(out)
}

fn replayed(response: StoredResponse) -> Paid {
    Paid {
        response,
        receipt: None,
    }
}

/// Checks the PINs of the `fresh` jobs in order. Returns the jobs that may pay, and the
/// refusals, after writing the PIN counts they changed.
async fn check_pins(
    tx: &mut Tx,
    jobs: &[PaymentJob],
    fresh: &[usize],
    rules: &Rules<'_>,
) -> Result<(Vec<usize>, Vec<(usize, ApiError)>), ApiError> {
    if fresh.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let residents: BTreeSet<i64> = fresh.iter().map(|&i| jobs[i].resident_id).collect();
    let mut pins = auth::pins(tx, &residents).await?;
    let mut payable = Vec::with_capacity(fresh.len());
    let mut refused = Vec::new();
    for &i in fresh {
        let job = &jobs[i];
        let Some(pin) = pins.get_mut(&job.resident_id) else {
            refused.push((i, AuthError::Unauthorized.into()));
            continue;
        };
        match pin
            .attempt(&job.pin, &rules.pin_pepper, rules.pin_policy, rules.now)
            .await
        {
            Ok(()) => payable.push(i),
            Err(e @ (AuthError::WrongPin { .. } | AuthError::PinLocked { .. })) => {
                refused.push((i, e.into()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    auth::save_pins(tx, &pins).await?;
    Ok((payable, refused))
}
