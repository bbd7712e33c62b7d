//! Group commit for SQLite's single writer. Value-moving requests queue their transaction
//! here; one task takes whatever is queued, runs each in its own savepoint of one transaction
//! and commits them together: one fsync for the batch instead of one per payment, and the
//! writer connection handed over once per batch instead of once per request.
//!
//! Nothing is answered before the batch's commit returns, so an acknowledged payment is a
//! durable one. A refusal (4xx) rolls back to its savepoint and is remembered under its key in
//! the same transaction; a server fault inside one request's savepoint fails that request
//! only; a fault of the transaction itself (begin, a savepoint, commit) fails the whole batch
//! with a server error, which clients retry with their idempotency keys. An idle queue means
//! a batch of one: no waiting for company.
//!
//! PostgreSQL runs transactions concurrently on its pool and groups WAL flushes itself, so it
//! does not come here.

use super::error::ApiError;
use super::idempotent::TxFuture;
use crate::clock::Clock;
use crate::db::{Db, Tx};
use crate::idempotency::{IdempotencyKey, StoredResponse};
use axum::http::StatusCode;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// At most this many requests share a commit: enough to amortise the fsync, few enough that
/// the first of a batch does not wait long for the last.
const MAX_BATCH: usize = 32;
/// Requests queued for the writer at most; beyond it callers wait to queue (back-pressure).
const QUEUE: usize = 1024;

/// A request's work with its response already serialised: what the queue carries.
pub type Work =
    Box<dyn for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, (String, Option<i64>)> + Send + 'static>;

struct Job {
    lane: Lane,
    key: IdempotencyKey,
    status: StatusCode,
    work: Work,
    reply: oneshot::Sender<Result<StoredResponse, ApiError>>,
}

/// Which queue a request waits in. A resident at the till comes first: a sale's burst of
/// orders gets at most [`BEHIND_PER_BATCH`] places in each batch, so payments keep their
/// latency while the sale's own admission gate answers the excess with Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Payments, refunds, charges, points: everything a person waits for on the spot.
    Till,
    /// Sale orders, which come in bursts.
    BehindPayments,
}

const BEHIND_PER_BATCH: usize = 2;

struct Queues {
    till: mpsc::Sender<Job>,
    behind: mpsc::Sender<Job>,
}

/// The queues to the writer task, started on first use (inside the runtime).
#[derive(Clone, Default)]
pub struct GroupCommit {
    queues: Arc<OnceLock<Queues>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    batches: AtomicU64,
    requests: AtomicU64,
}

/// How much sharing happened: transactions run and the requests they carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub batches: u64,
    pub requests: u64,
}

impl GroupCommit {
    pub fn stats(&self) -> Stats {
        Stats {
            batches: self.counts.batches.load(Ordering::Relaxed),
            requests: self.counts.requests.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` under `key` in a coming batch and answers once that batch has committed.
    pub async fn run(
        &self,
        db: &Db,
        clock: &Arc<dyn Clock>,
        lane: Lane,
        key: &IdempotencyKey,
        status: StatusCode,
        work: Work,
    ) -> Result<StoredResponse, ApiError> {
        let queues = self.queues.get_or_init(|| {
            let (till, till_rx) = mpsc::channel(QUEUE);
            let (behind, behind_rx) = mpsc::channel(QUEUE);
            let receivers = Receivers {
                till: till_rx,
                behind: behind_rx,
            };
            tokio::spawn(writer(
                db.clone(),
                clock.clone(),
                self.counts.clone(),
                receivers,
            ));
            Queues { till, behind }
        });
        let queue = match lane {
            Lane::Till => &queues.till,
            Lane::BehindPayments => &queues.behind,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            lane,
            key: key.clone(),
            status,
            work,
            reply,
        };
        queue
            .send(job)
            .await
            .map_err(|_| ApiError::internal("the group-commit writer has stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the group-commit writer dropped a request"))?
    }
}

struct Receivers {
    till: mpsc::Receiver<Job>,
    behind: mpsc::Receiver<Job>,
}

impl Receivers {
    /// Waits for a request, then takes what else is queued: till requests first, then up to
    /// [`BEHIND_PER_BATCH`] of the others. Empty when both queues are closed.
    async fn next_batch(&mut self) -> Vec<Job> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        tokio::select! {
            biased;
            Some(job) = self.till.recv() => batch.push(job),
            Some(job) = self.behind.recv() => batch.push(job),
            else => return batch,
        }
        while batch.len() < MAX_BATCH {
            match self.till.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut behind = batch
            .iter()
            .filter(|job| job.lane == Lane::BehindPayments)
            .count();
        while behind < BEHIND_PER_BATCH && batch.len() < MAX_BATCH {
            match self.behind.try_recv() {
                Ok(job) => {
                    batch.push(job);
                    behind += 1;
                }
                Err(_) => break,
            }
        }
        batch
    }
}

async fn writer(db: Db, clock: Arc<dyn Clock>, counts: Arc<Counts>, mut queues: Receivers) {
    loop {
        let jobs = queues.next_batch().await;
        if jobs.is_empty() {
            return;
        }
        let size = jobs.len();
        let answers = run_batch(&db, clock.as_ref(), jobs).await;
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.requests.fetch_add(size as u64, Ordering::Relaxed);
        metrics::histogram!("chiiki_group_commit_batch_size").record(size as f64);
        for (reply, answer) in answers {
            // A caller that went away still had its work done (and remembered under its key).
            let _ = reply.send(answer);
        }
    }
}

type Answer = (
    oneshot::Sender<Result<StoredResponse, ApiError>>,
    Result<StoredResponse, ApiError>,
);

/// One transaction for `jobs`. Returns every job's answer, to be sent after the commit.
async fn run_batch(db: &Db, clock: &dyn Clock, jobs: Vec<Job>) -> Vec<Answer> {
    let mut tx = match db.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(jobs.into_iter().map(|j| j.reply), ApiError::from(e)),
    };
    let now = clock.now();
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut first = true;
    while let Some(job) = jobs.next() {
        let open = if first {
            "SAVEPOINT request"
        } else {
            // Ends the previous request's savepoint and opens this one's in one round trip.
            "RELEASE request; SAVEPOINT request"
        };
        first = false;
        match in_savepoint(&mut tx, open, job.key, job.status, job.work, now).await {
            Ok(answer) => answers.push((job.reply, answer)),
            Err(broken) => {
                // The transaction itself failed: nothing of this batch is committed.
                tracing::error!(error = %broken, "group commit: the batch's transaction failed");
                let _ = tx.rollback().await;
                let replies = answers
                    .into_iter()
                    .map(|(reply, _)| reply)
                    .chain(std::iter::once(job.reply))
                    .chain(jobs.map(|j| j.reply));
                return fail_all(replies, ApiError::from(broken));
            }
        }
    }
    // The commit ends the last savepoint too.
    match tx.commit().await {
        Ok(()) => answers,
        Err(e) => {
            tracing::error!(error = %e, "group commit: commit failed");
            fail_all(
                answers.into_iter().map(|(reply, _)| reply),
                ApiError::from(e),
            )
        }
    }
}

fn fail_all(
    replies: impl Iterator<Item = oneshot::Sender<Result<StoredResponse, ApiError>>>,
    err: ApiError,
) -> Vec<Answer> {
    replies.map(|reply| (reply, Err(err.clone()))).collect()
}

/// Runs one request in a savepoint that `open` starts (released by the next request's `open`
/// or by the commit). The outer `Err` means the transaction can no longer be trusted (a
/// savepoint statement failed); the inner result is the request's own answer.
async fn in_savepoint(
    tx: &mut Tx,
    open: &'static str,
    key: IdempotencyKey,
    status: StatusCode,
    work: Work,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<StoredResponse, ApiError>, sqlx::Error> {
    sqlx::raw_sql(open).execute(&mut **tx).await?;
    let outcome = AssertUnwindSafe(attempt(tx, &key, status, work, now))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("a request panicked in group commit")));
    let answer = match outcome {
        Ok(Attempt::Done(response)) => Ok(response),
        Ok(Attempt::Replay(previous)) => {
            undo(tx).await?;
            Ok(previous)
        }
        Err(err) => {
            undo(tx).await?;
            if err.status.is_client_error() {
                let body = super::idempotent::refusal_body(&err);
                match key.remember_refusal_on(tx, &body, now).await {
                    Ok(remembered) => Ok(remembered),
                    Err(e) => Err(ApiError::from(e)),
                }
            } else {
                Err(err)
            }
        }
    };
    Ok(answer)
}

async fn undo(tx: &mut Tx) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("ROLLBACK TO request")
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

enum Attempt {
    Done(StoredResponse),
    /// The key was used before: answer what it answered then, undo the claim attempt.
    Replay(StoredResponse),
}

async fn attempt(
    tx: &mut Tx,
    key: &IdempotencyKey,
    status: StatusCode,
    work: Work,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Attempt, ApiError> {
    if let Some(previous) = key.claim(tx, now).await? {
        return Ok(Attempt::Replay(previous));
    }
    let (body, operation_id) = work(tx).await?;
    let response = StoredResponse {
        status: status.as_u16(),
        body,
    };
    key.complete(tx, &response, operation_id).await?;
    Ok(Attempt::Done(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(lane: Lane, n: usize) -> Job {
        let key = IdempotencyKey::new("resident:1", Some(&format!("k{n}")), "POST /t", &().into())
            .expect("a valid key");
        let (reply, _) = oneshot::channel();
        Job {
            lane,
            key,
            status: StatusCode::CREATED,
            work: Box::new(|_| Box::pin(async { Ok((String::new(), None)) })),
            reply,
        }
    }

    fn lanes(batch: &[Job]) -> Vec<Lane> {
        batch.iter().map(|job| job.lane).collect()
    }

    #[tokio::test]
    async fn payments_fill_a_batch_before_sale_orders_and_orders_get_few_places() {
        let (till, till_rx) = mpsc::channel(16);
        let (behind, behind_rx) = mpsc::channel(16);
        let mut queues = Receivers {
            till: till_rx,
            behind: behind_rx,
        };
        for n in 0..5 {
            behind.send(job(Lane::BehindPayments, n)).await.unwrap();
        }
        for n in 0..3 {
            till.send(job(Lane::Till, n)).await.unwrap();
        }
        use Lane::*;
        let first = queues.next_batch().await;
        assert_eq!(
            lanes(&first),
            [Till, Till, Till, BehindPayments, BehindPayments]
        );
        let second = queues.next_batch().await;
        assert_eq!(lanes(&second), [BehindPayments, BehindPayments]);
        till.send(job(Till, 9)).await.unwrap();
        let third = queues.next_batch().await;
        assert_eq!(lanes(&third), [Till, BehindPayments]);
        drop((till, behind));
        assert!(
            queues.next_batch().await.is_empty(),
            "closed queues end the writer"
        );
    }
}
