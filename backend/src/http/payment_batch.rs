//! Residents' payments in the app, many to one transaction, each exactly once: find who is
//! paying, claim the idempotency keys, check the PINs, make the payments and store every
//! answer, in a handful of set-based statements whatever the batch's size. The writers in
//! `group_commit` gather the batches and commit them; this module owns what happens inside
//! the transaction and never commits.
//!
//! The caller is authenticated here, in the transaction that pays, rather than before the
//! request queued: one statement for the batch instead of one per payment, and a session
//! revoked or a PIN locked meanwhile is seen. The order inside the transaction is the order a
//! lone payment had: a key used before answers what it answered then (even if the PIN has
//! been locked since); a wrong PIN is counted once per key, however often the request is
//! retried; a refusal is remembered under its key in the same transaction as the PIN count it
//! caused; only a request that will check a PIN takes one of the resident's payment attempts
//! (a retry that replays its answer takes none, nor does the batch going round again after a
//! race: [`Attempts`]). Keys are looked up first and written once,
//! with their answers, at the end; a key that another transaction answered in between sends
//! the whole batch round again ([`BatchError::Raced`]).

use super::error::ApiError;
use super::idempotent::refusal_body;
use crate::auth::{self, AuthError, PinPolicy};
use crate::db::Tx;
use crate::idempotency::{
    self, Found, IdempotencyError, IdempotencyKey, RequestKey, StoredResponse,
};
use crate::ledger::{self, PaymentChannel, PaymentInput};
use crate::ops::limits::{KeyedLimiter, RetryAfter};
use crate::programme::Programme;
use axum::http::StatusCode;
use chiiki_core::Yen;
use chiiki_core::protocol::PaymentReceipt;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// One payment request as it arrived: the caller's session, the key, what to pay, the PIN.
#[derive(Debug, Clone)]
pub struct PaymentJob {
    /// The SHA-256 of the caller's bearer token (`crypto::token_hash`).
    pub session: String,
    pub key: RequestKey,
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
    /// The resident who asked.
    pub resident_id: i64,
}

/// What every payment of a batch is checked against.
pub struct Rules<'a> {
    pub programme: &'a Programme,
    pub pin_pepper: [u8; 32],
    pub pin_policy: PinPolicy,
    /// Payment attempts per resident, on top of the PIN lockout (none in the simulation).
    pub attempts: Option<&'a Attempts<'a>>,
    pub now: DateTime<Utc>,
}

/// The payment attempts a batch's requests take from their residents: one per request (key)
/// at most, however often the batch runs again after a race, so that a key racing with
/// another transaction does not cost its resident a second attempt. Made once per batch.
pub struct Attempts<'a> {
    limiter: &'a KeyedLimiter,
    taken: Mutex<Vec<IdempotencyKey>>,
}

impl<'a> Attempts<'a> {
    pub fn new(limiter: &'a KeyedLimiter) -> Attempts<'a> {
        Attempts {
            limiter,
            taken: Mutex::new(Vec::new()),
        }
    }

    /// Takes an attempt of `resident_id` for the request under `key`, unless it has one.
    fn take(
        &self,
        key: &IdempotencyKey,
        resident_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), RetryAfter> {
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        if taken.iter().any(|k| k.same_key(key)) {
            return Ok(());
        }
        self.limiter
            .check(&format!("resident:{resident_id}"), now)?;
        taken.push(key.clone());
        Ok(())
    }
}

/// Where one job's answer comes from.
enum Source {
    /// Not to be run: the caller is not a signed-in resident.
    Refused(ApiError),
    /// The first job with its key: it does the work.
    Leader,
    /// The same key again in the same batch (a request delivered twice at once): the leader's
    /// answer, or a conflict if the request differs.
    Follower(usize),
}

/// Why a batch's transaction must not commit.
#[derive(Debug)]
pub enum BatchError {
    /// Another transaction stored the answer of one of the batch's keys after the batch had
    /// looked them up (a request delivered twice, in flight in two batches): roll back and
    /// run the batch again, when it will replay that answer.
    Raced,
    /// The transaction failed: every payment of the batch gets this server error, and
    /// clients retry with the same keys.
    Failed(ApiError),
}

impl<E: Into<ApiError>> From<E> for BatchError {
    fn from(e: E) -> Self {
        BatchError::Failed(e.into())
    }
}

/// Runs `jobs` inside `tx` without committing. Per job, its answer; an `Err` answer is one
/// not to remember (no signed-in resident, too many attempts, a key reused for another
/// request). The outer error says the transaction must not commit.
pub async fn apply(
    tx: &mut Tx,
    jobs: &[PaymentJob],
    rules: &Rules<'_>,
) -> Result<Vec<Result<Paid, ApiError>>, BatchError> {
    let sessions: BTreeSet<&str> = jobs.iter().map(|j| j.session.as_str()).collect();
    let mut payers = auth::payers(tx, &sessions, rules.now).await?;
    let mut residents: Vec<i64> = Vec::with_capacity(jobs.len());
    let mut keys: Vec<IdempotencyKey> = Vec::with_capacity(jobs.len());
    let mut sources: Vec<Source> = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let resident = match payers.sessions.get(&job.session) {
            Some(Ok(id)) => Ok(*id),
            Some(Err(AuthError::Forbidden)) => Err(AuthError::Forbidden),
            _ => Err(AuthError::Unauthorized),
        };
        let resident_id = *resident.as_ref().unwrap_or(&0);
        let key = job.key.scoped(&format!("resident:{resident_id}"));
        let source = match resident {
            Err(why) => Source::Refused(why.into()),
            Ok(_) => match (0..i).find(|&j| keys[j].same_key(&key)) {
                Some(j) => Source::Follower(j),
                None => Source::Leader,
            },
        };
        residents.push(resident_id);
        keys.push(key);
        sources.push(source);
    }
    let leaders: Vec<usize> = (0..jobs.len())
        .filter(|&i| matches!(sources[i], Source::Leader))
        .collect();
    let leader_keys: Vec<&IdempotencyKey> = leaders.iter().map(|&i| &keys[i]).collect();
    let found = if leaders.is_empty() {
        Vec::new()
    } else {
        idempotency::lookup_many(tx, &leader_keys).await?
    };

    let mut answers: Vec<Option<Result<Paid, ApiError>>> = jobs.iter().map(|_| None).collect();
    let mut fresh: Vec<usize> = Vec::with_capacity(leaders.len());
    for (&i, found) in leaders.iter().zip(found) {
        match found {
            Ok(Found::New) => match rules
                .attempts
                .map(|a| a.take(&keys[i], residents[i], rules.now))
            {
                // Not remembered under the key: the same request may try again later.
                Some(Err(wait)) => answers[i] = Some(Err(ApiError::rate_limited(wait.0))),
                _ => fresh.push(i),
            },
            Ok(Found::Answered(previous)) => {
                answers[i] = Some(Ok(replayed(previous, residents[i])))
            }
            Err(IdempotencyError::Conflict) => {
                answers[i] = Some(Err(IdempotencyError::Conflict.into()))
            }
            Err(e) => return Err(e.into()),
        }
    }

    let (payable, mut refused) =
        check_pins(jobs, &residents, &fresh, &mut payers.pins, rules).await?;
    auth::save_pins(tx, &payers.pins).await?;
    let inputs: Vec<PaymentInput<'_>> = payable
        .iter()
        .map(|&i| PaymentInput {
            resident_id: residents[i],
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
                    resident_id: residents[i],
                }));
            }
            Err(why) => refused.push((i, ApiError::from(why))),
        }
    }
    for (i, why) in refused {
        if !why.status.is_client_error() {
            // Not the request's fault: retrying may succeed, so nothing is remembered.
            return Err(BatchError::Failed(why));
        }
        let response = refusal_body(&why);
        completed.push((i, response.clone(), None));
        answers[i] = Some(Ok(replayed(response, residents[i])));
    }
    let done: Vec<(&IdempotencyKey, &StoredResponse, Option<i64>)> = completed
        .iter()
        .map(|(i, response, operation)| (&keys[*i], response, *operation))
        .collect();
    if !done.is_empty() && !idempotency::remember_many(tx, &done, rules.now).await? {
        return Err(BatchError::Raced);
    }

    let mut out: Vec<Result<Paid, ApiError>> = Vec::with_capacity(jobs.len());
    for (i, source) in sources.into_iter().enumerate() {
        let answer = match source {
            Source::Refused(why) => Err(why),
            Source::Leader => answers[i]
                .take()
                .unwrap_or_else(|| Err(ApiError::internal("a payment got no answer"))),
            Source::Follower(leader) if keys[leader] != keys[i] => {
                Err(IdempotencyError::Conflict.into())
            }
            Source::Follower(leader) => match &out[leader] {
                Ok(paid) => Ok(replayed(paid.response.clone(), residents[i])),
                Err(e) => Err(e.clone()),
            },
        };
        out.push(answer);
    }
    Ok(out)
}

fn replayed(response: StoredResponse, resident_id: i64) -> Paid {
    Paid {
        response,
        receipt: None,
        resident_id,
    }
}

/// Checks the PINs of the `fresh` jobs in order, against the states in `pins` (changed in
/// place, to be saved). Returns the jobs that may pay, and the refusals.
async fn check_pins(
    jobs: &[PaymentJob],
    residents: &[i64],
    fresh: &[usize],
    pins: &mut std::collections::HashMap<i64, auth::PinState>,
    rules: &Rules<'_>,
) -> Result<(Vec<usize>, Vec<(usize, ApiError)>), ApiError> {
    let mut payable = Vec::with_capacity(fresh.len());
    let mut refused = Vec::new();
    for &i in fresh {
        let Some(pin) = pins.get_mut(&residents[i]) else {
            refused.push((i, AuthError::Unauthorized.into()));
            continue;
        };
        match pin
            .attempt(&jobs[i].pin, &rules.pin_pepper, rules.pin_policy, rules.now)
            .await
        {
            Ok(()) => payable.push(i),
            Err(e @ (AuthError::WrongPin { .. } | AuthError::PinLocked { .. })) => {
                refused.push((i, e.into()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((payable, refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::limits::Rate;
    use chrono::TimeZone;

    #[test]
    fn a_request_takes_one_attempt_however_often_its_batch_runs() {
        let limiter = KeyedLimiter::new(Rate::per_minute(2, 1));
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
        let key = |k: &str, resident: i64| {
            RequestKey::new(Some(k), "POST /api/v1/payments", &serde_json::json!({}))
                .expect("a key")
                .scoped(&format!("resident:{resident}"))
        };
        let attempts = Attempts::new(&limiter);
        // The batch's first round, then two more after races: one attempt.
        for _ in 0..3 {
            assert_eq!(attempts.take(&key("k-1", 7), 7, now), Ok(()));
        }
        assert_eq!(
            attempts.take(&key("k-2", 7), 7, now),
            Ok(()),
            "the second of two"
        );
        // A new batch of the same resident finds both attempts taken.
        let next = Attempts::new(&limiter);
        assert_eq!(next.take(&key("k-3", 7), 7, now), Err(RetryAfter(60)));
        assert_eq!(next.take(&key("k-3", 8), 8, now), Ok(()), "residents apart");
    }
}
