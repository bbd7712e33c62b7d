//! Group commit: value-moving requests queue here and share transactions. A writer takes
//! whatever is queued, runs it in one transaction and commits once: one WAL flush for the
//! batch instead of one per request, and (for payments) a handful of set-based statements for
//! the whole batch instead of a dozen per payment (`payment_batch`).
//!
//! - Residents' payments come here on both engines. SQLite has one writer (it allows one
//!   anyway); PostgreSQL has [`POSTGRES_WRITERS`], so that one batch's commit overlaps the next
//!   batch's statements. Row locks taken in one order keep concurrent batches, and other
//!   servers' batches, correct and free of deadlocks.
//! - On SQLite every other value-moving request comes here too, each in its own savepoint of
//!   the batch's transaction. PostgreSQL runs those concurrently on its pool.
//!
//! Nothing is answered before the batch's commit returns, so an acknowledged payment is a
//! durable one. A refusal (4xx) is remembered under its key in the same transaction; a server
//! fault inside one request's savepoint fails that request only; a fault of the transaction
//! itself (begin, a set-based payment statement, commit) fails the whole batch with a server
//! error, which clients retry with their idempotency keys. An idle queue means a batch of
//! one: no waiting for company.

use super::AppState;
use super::error::ApiError;
use super::idempotent::TxFuture;
use super::payment_batch::{self, Attempts, BatchError, Paid, PaymentJob, Rules};
use crate::auth::PinPolicy;
use crate::clock::Clock;
use crate::db::{Db, Engine, Tx};
use crate::idempotency::{IdempotencyKey, StoredResponse};
use crate::ops::limits::Limits;
use crate::programme::Programme;
use axum::http::StatusCode;
use chiiki_core::protocol::ErrorCode;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{Mutex, mpsc, oneshot};

/// At most this many requests share a commit: enough to amortise the flush and the
/// statements over a busy minute (measured: 32 gives about a fifth less throughput and no
/// better latency), few enough that the first of a batch does not wait long for the last.
const MAX_BATCH: usize = 64;
/// Requests queued for the writers at most; beyond it callers wait to queue (back-pressure).
const QUEUE: usize = 1024;
/// Payment writers per server on PostgreSQL: two keep one batch's commit (a WAL flush) and
/// the next batch's statements overlapping; more make smaller batches, so more statements
/// for the same payments.
const POSTGRES_WRITERS: usize = 2;

/// A request's work with its response already serialised: what the queue carries.
pub type Work =
    Box<dyn for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, (String, Option<i64>)> + Send + 'static>;

enum Job {
    Payment {
        job: PaymentJob,
        reply: Reply<Paid>,
    },
    Work {
        key: IdempotencyKey,
        status: StatusCode,
        work: Work,
        reply: Reply<StoredResponse>,
    },
}

struct Queued {
    lane: Lane,
    job: Job,
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

/// Sale orders per batch (SQLite). With one, neither lane starves (a full batch of payments
/// still takes an order) and orders go through by the hundred per second, a batch committing
/// every few milliseconds; payments' p99 through a burst of 5,000 orders was 2–3 times its
/// usual value (measured; two orders a batch made it about three times).
const BEHIND_PER_BATCH: usize = 1;

struct Queues {
    till: mpsc::Sender<Queued>,
    behind: mpsc::Sender<Queued>,
}

/// What the writers need of the server's state. Not the state itself: the writers end when
/// the last [`GroupCommit`] handle (and so every sender) is dropped.
#[derive(Clone)]
struct Context {
    db: Db,
    clock: Arc<dyn Clock>,
    programme: Arc<Programme>,
    pin_policy: PinPolicy,
    limits: Arc<Limits>,
    counts: Arc<Counts>,
}

/// The queues to the writers, started on first use (inside the runtime).
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

    /// Makes a resident's payment in a coming batch and answers once that batch committed.
    pub async fn pay(&self, state: &AppState, job: PaymentJob) -> Result<Paid, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Payment { job, reply };
        self.enqueue(state, Lane::Till, job).await?;
        answer
            .await
            .map_err(|_| ApiError::internal("the group-commit writer dropped a payment"))?
    }

    /// Runs `work` under `key` in a coming batch and answers once that batch has committed.
    /// SQLite only: PostgreSQL runs such work on its pool.
    pub async fn run(
        &self,
        state: &AppState,
        lane: Lane,
        key: &IdempotencyKey,
        status: StatusCode,
        work: Work,
    ) -> Result<StoredResponse, ApiError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Work {
            key: key.clone(),
            status,
            work,
            reply,
        };
        self.enqueue(state, lane, job).await?;
        answer
            .await
            .map_err(|_| ApiError::internal("the group-commit writer dropped a request"))?
    }

    async fn enqueue(&self, state: &AppState, lane: Lane, job: Job) -> Result<(), ApiError> {
        let queues = self.queues.get_or_init(|| self.start(state));
        let queue = match lane {
            Lane::Till => &queues.till,
            Lane::BehindPayments => &queues.behind,
        };
        queue
            .send(Queued { lane, job })
            .await
            .map_err(|_| ApiError::internal("the group-commit writer has stopped"))
    }

    fn start(&self, state: &AppState) -> Queues {
        let (till, till_rx) = mpsc::channel(QUEUE);
        let (behind, behind_rx) = mpsc::channel(QUEUE);
        let receivers = Arc::new(Mutex::new(Receivers {
            till: till_rx,
            behind: behind_rx,
        }));
        let context = Context {
            db: state.db.clone(),
            clock: state.clock.clone(),
            programme: state.programme.clone(),
            pin_policy: state.settings.pin_policy,
            limits: state.limits.clone(),
            counts: self.counts.clone(),
        };
        let writers = match state.db.engine {
            Engine::Sqlite => 1,
            Engine::Postgres => POSTGRES_WRITERS,
        };
        start_writers(context, receivers, writers);
        Queues { till, behind }
    }
}

struct Receivers {
    till: mpsc::Receiver<Queued>,
    behind: mpsc::Receiver<Queued>,
}

impl Receivers {
    /// Waits for a request, then takes what else is queued: till requests first, up to
    /// [`BEHIND_PER_BATCH`] of the others in places kept for them (so that a busy till
    /// cannot starve them), then till requests again into the places they left. Empty when
    /// both queues are closed.
    async fn next_batch(&mut self) -> Vec<Queued> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        tokio::select! {
            biased;
            Some(job) = self.till.recv() => batch.push(job),
            Some(job) = self.behind.recv() => batch.push(job),
            else => return batch,
        }
        take(&mut self.till, &mut batch, MAX_BATCH - BEHIND_PER_BATCH);
        let behind = batch
            .iter()
            .filter(|job| job.lane == Lane::BehindPayments)
            .count();
        let room = BEHIND_PER_BATCH.saturating_sub(behind);
        let up_to = (batch.len() + room).min(MAX_BATCH);
        take(&mut self.behind, &mut batch, up_to);
        take(&mut self.till, &mut batch, MAX_BATCH);
        batch
    }
}

/// Moves what `queue` holds into `batch` until the batch has `up_to` requests.
fn take(queue: &mut mpsc::Receiver<Queued>, batch: &mut Vec<Queued>, up_to: usize) {
    while batch.len() < up_to {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// The writers get a thread and a runtime of their own (and on PostgreSQL connections that
/// runtime drives): they are the one serial step of every payment, so they must not wait
/// behind HTTP tasks for a worker each time a statement returns. On SQLite, in a server,
/// that thread keeps to the CPU its connection's thread keeps to (`ops::cpu`).
fn start_writers(context: Context, receivers: Arc<Mutex<Receivers>>, writers: usize) {
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| {
            std::thread::Builder::new()
                .name("chiiki-writer".into())
                .spawn(move || {
                    if let Some(cpu) = context.db.writer_cpu() {
                        keep_to_writer_cpu(cpu);
                    }
                    runtime.block_on(run_writers(context, receivers, writers))
                })
        });
    if let Err(e) = started {
        // Callers then get "the writer has stopped" (500) rather than a hang.
        tracing::error!(error = %e, "group commit: cannot start the writer thread");
    }
}

fn keep_to_writer_cpu(cpu: usize) {
    match crate::ops::cpu::keep_to(cpu) {
        Ok(()) => tracing::info!(cpu, "group commit: the writer shares its connection's CPU"),
        Err(e) => {
            tracing::warn!(error = %e, cpu, "group commit: cannot keep the writer to its connection's CPU")
        }
    }
}

async fn run_writers(context: Context, receivers: Arc<Mutex<Receivers>>, writers: usize) {
    let db = match context.db.for_this_runtime(writers as u32) {
        Ok(db) => db,
        Err(e) => {
            tracing::error!(error = %e, "group commit: no database for the writers");
            return;
        }
    };
    let context = Context { db, ..context };
    let running: Vec<_> = (0..writers)
        .map(|_| tokio::spawn(writer(context.clone(), receivers.clone())))
        .collect();
    for writer in running {
        let _ = writer.await;
    }
    context.db.close().await;
}

/// Takes batches until the queues close. Writers share the receivers: one gathers a batch
/// while the others run theirs.
async fn writer(context: Context, receivers: Arc<Mutex<Receivers>>) {
    loop {
        let jobs = receivers.lock().await.next_batch().await;
        if jobs.is_empty() {
            return;
        }
        let size = jobs.len();
        let behind = jobs
            .iter()
            .filter(|job| job.lane == Lane::BehindPayments)
            .count();
        let started = std::time::Instant::now();
        run_batch(&context, jobs).await;
        let seconds = started.elapsed().as_secs_f64();
        context.counts.batches.fetch_add(1, Ordering::Relaxed);
        context
            .counts
            .requests
            .fetch_add(size as u64, Ordering::Relaxed);
        metrics::histogram!("chiiki_group_commit_batch_size").record(size as f64);
        metrics::histogram!("chiiki_group_commit_seconds").record(seconds);
        tracing::debug!(
            size,
            behind,
            millis = seconds * 1000.0,
            "group commit: batch committed"
        );
    }
}

/// Where a request's answer goes, and the answer.
type Reply<T> = oneshot::Sender<Result<T, ApiError>>;
type Answered<T> = (Reply<T>, Result<T, ApiError>);

/// The answers of a batch, in the order of its requests, sent only after its commit.
struct Answers {
    payments: Vec<Answered<Paid>>,
    works: Vec<Answered<StoredResponse>>,
}

impl Answers {
    /// Every request starts as "not finished", so that any way out still answers everyone.
    fn unfinished(payments: Vec<Reply<Paid>>, works: Vec<Reply<StoredResponse>>) -> Answers {
        let unfinished = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "サーバーで問題が起きました。もう一度お試しください。 / The batch did not finish.",
        );
        Answers {
            payments: payments
                .into_iter()
                .map(|reply| (reply, Err(unfinished.clone())))
                .collect(),
            works: works
                .into_iter()
                .map(|reply| (reply, Err(unfinished.clone())))
                .collect(),
        }
    }

    /// Every answer becomes `err`: the transaction did not commit.
    fn fail(&mut self, err: &ApiError) {
        for (_, answer) in &mut self.payments {
            *answer = Err(err.clone());
        }
        for (_, answer) in &mut self.works {
            *answer = Err(err.clone());
        }
    }

    fn send(self) {
        // A caller that went away still had its work done (and remembered under its key).
        for (reply, answer) in self.payments {
            let _ = reply.send(answer);
        }
        for (reply, answer) in self.works {
            let _ = reply.send(answer);
        }
    }
}

/// Another request's work, as the batch runs it.
struct WorkJob {
    key: IdempotencyKey,
    status: StatusCode,
    work: Work,
}

/// One transaction for `jobs`: the payments together first, then each other request in a
/// savepoint of its own. Answers everyone after the commit.
async fn run_batch(context: &Context, jobs: Vec<Queued>) {
    let mut payments = Vec::new();
    let mut payment_replies = Vec::new();
    let mut works = Vec::new();
    let mut work_replies = Vec::new();
    for queued in jobs {
        match queued.job {
            Job::Payment { job, reply } => {
                payments.push(job);
                payment_replies.push(reply);
            }
            Job::Work {
                key,
                status,
                work,
                reply,
            } => {
                works.push(WorkJob { key, status, work });
                work_replies.push(reply);
            }
        }
    }
    let mut answers = Answers::unfinished(payment_replies, work_replies);
    // Only a batch of payments alone goes round again after a race (other work runs once,
    // and beside it the payments retry in their savepoint).
    let rerunnable = works.is_empty();
    let attempts = Attempts::new(&context.limits.pin_per_account);
    let mut works = Some(works);
    let mut rounds = 0;
    let outcome = loop {
        rounds += 1;
        let outcome = match context.db.begin().await {
            Ok(mut tx) => {
                let works = works.take().unwrap_or_default();
                match run_in(context, &mut tx, &payments, &attempts, works, &mut answers).await {
                    Ok(()) => tx.commit().await.map_err(BatchError::from),
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e)
                    }
                }
            }
            Err(e) => Err(BatchError::from(e)),
        };
        match outcome {
            Err(BatchError::Raced) if rerunnable && rounds < RACE_ROUNDS => continue,
            outcome => break outcome,
        }
    };
    let failed = match outcome {
        Ok(()) => None,
        Err(BatchError::Failed(e)) => Some(e),
        Err(BatchError::Raced) => Some(ApiError::internal("a payment batch kept racing")),
    };
    if let Some(e) = failed {
        tracing::error!(error = %e.message, "group commit: the batch's transaction failed");
        answers.fail(&e);
    }
    answers.send();
}

/// Rounds a batch of payments gets when its keys race with another transaction's.
const RACE_ROUNDS: usize = 3;

/// The batch's statements, answers filled in as they come. `Err` means the transaction
/// itself must not commit.
async fn run_in(
    context: &Context,
    tx: &mut Tx,
    payments: &[PaymentJob],
    attempts: &Attempts<'_>,
    works: Vec<WorkJob>,
    answers: &mut Answers,
) -> Result<(), BatchError> {
    let now = context.clock.now();
    if !payments.is_empty() {
        let rules = Rules {
            programme: &context.programme,
            pin_pepper: context.db.vault().pin_pepper(),
            pin_policy: context.pin_policy,
            attempts: Some(attempts),
            now,
        };
        if works.is_empty() {
            let results = pay(tx, payments, &rules).await?;
            fill(&mut answers.payments, results);
        } else {
            // Beside other requests the payments get a savepoint, so that a fault of theirs
            // leaves the others to commit, and a race runs them again in it.
            sqlx::raw_sql("SAVEPOINT payments")
                .execute(&mut **tx)
                .await?;
            let mut rounds = 0;
            let results = loop {
                rounds += 1;
                match pay(tx, payments, &rules).await {
                    Ok(results) => {
                        sqlx::raw_sql("RELEASE payments").execute(&mut **tx).await?;
                        break Ok(results);
                    }
                    Err(BatchError::Raced) if rounds < RACE_ROUNDS => {
                        sqlx::raw_sql("ROLLBACK TO payments")
                            .execute(&mut **tx)
                            .await?;
                    }
                    Err(e) => {
                        sqlx::raw_sql("ROLLBACK TO payments; RELEASE payments")
                            .execute(&mut **tx)
                            .await?;
                        break Err(match e {
                            BatchError::Failed(e) => e,
                            BatchError::Raced => ApiError::internal("payments kept racing"),
                        });
                    }
                }
            };
            match results {
                Ok(results) => fill(&mut answers.payments, results),
                Err(err) => {
                    for (_, answer) in &mut answers.payments {
                        *answer = Err(err.clone());
                    }
                }
            }
        }
    }
    for (job, (_, answer)) in works.into_iter().zip(answers.works.iter_mut()) {
        *answer = in_savepoint(tx, job.key, job.status, job.work, now).await?;
    }
    Ok(())
}

/// The payment batch, with a panic turned into a failed transaction.
async fn pay(
    tx: &mut Tx,
    payments: &[PaymentJob],
    rules: &Rules<'_>,
) -> Result<Vec<Result<Paid, ApiError>>, BatchError> {
    AssertUnwindSafe(payment_batch::apply(tx, payments, rules))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("a payment batch panicked").into()))
}

fn fill<T>(answers: &mut [Answered<T>], results: Vec<Result<T, ApiError>>) {
    for ((_, answer), result) in answers.iter_mut().zip(results) {
        *answer = result;
    }
}

/// Runs one request in a savepoint of its own. The outer `Err` means the transaction can no
/// longer be trusted (a savepoint statement failed); the inner result is the request's own
/// answer.
async fn in_savepoint(
    tx: &mut Tx,
    key: IdempotencyKey,
    status: StatusCode,
    work: Work,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Result<StoredResponse, ApiError>, sqlx::Error> {
    sqlx::raw_sql("SAVEPOINT request")
        .execute(&mut **tx)
        .await?;
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
    sqlx::raw_sql("RELEASE request").execute(&mut **tx).await?;
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

    fn job(lane: Lane, n: usize) -> Queued {
        let key = IdempotencyKey::new("resident:1", Some(&format!("k{n}")), "POST /t", &().into())
            .expect("a valid key");
        let (reply, _) = oneshot::channel();
        Queued {
            lane,
            job: Job::Work {
                key,
                status: StatusCode::CREATED,
                work: Box::new(|_| Box::pin(async { Ok((String::new(), None)) })),
                reply,
            },
        }
    }

    fn lanes(batch: &[Queued]) -> Vec<Lane> {
        batch.iter().map(|job| job.lane).collect()
    }

    /// Queues holding `till` and `behind` requests, with their senders (dropping both closes
    /// them).
    async fn queued(
        till: usize,
        behind: usize,
    ) -> (Receivers, mpsc::Sender<Queued>, mpsc::Sender<Queued>) {
        let (till_tx, till_rx) = mpsc::channel(till.max(1) + 1);
        let (behind_tx, behind_rx) = mpsc::channel(behind.max(1) + 1);
        for n in 0..behind {
            behind_tx.send(job(Lane::BehindPayments, n)).await.unwrap();
        }
        for n in 0..till {
            till_tx.send(job(Lane::Till, n)).await.unwrap();
        }
        let queues = Receivers {
            till: till_rx,
            behind: behind_rx,
        };
        (queues, till_tx, behind_tx)
    }

    #[tokio::test]
    async fn payments_fill_a_batch_before_sale_orders_and_orders_get_few_places() {
        let (mut queues, till, behind) = queued(3, 2 * BEHIND_PER_BATCH + 1).await;
        use Lane::*;
        let orders = vec![BehindPayments; BEHIND_PER_BATCH];
        let first = queues.next_batch().await;
        assert_eq!(
            lanes(&first),
            [vec![Till, Till, Till], orders.clone()].concat()
        );
        let second = queues.next_batch().await;
        assert_eq!(lanes(&second), orders);
        till.send(job(Till, 9)).await.unwrap();
        let third = queues.next_batch().await;
        assert_eq!(lanes(&third), [Till, BehindPayments]);
        drop((till, behind));
        assert!(
            queues.next_batch().await.is_empty(),
            "closed queues end the writer"
        );
    }

    #[tokio::test]
    async fn a_busy_till_still_leaves_sale_orders_their_places() {
        let (mut queues, _till, _behind) = queued(2 * MAX_BATCH, 5).await;
        let first = lanes(&queues.next_batch().await);
        assert_eq!(first.len(), MAX_BATCH);
        let orders = first.iter().filter(|l| **l == Lane::BehindPayments).count();
        assert_eq!(
            orders, BEHIND_PER_BATCH,
            "orders starved behind a full till"
        );
        // Places the orders do not need go to the till.
        let (mut queues, _till, _behind) = queued(2 * MAX_BATCH, 0).await;
        assert_eq!(queues.next_batch().await.len(), MAX_BATCH);
    }
}
