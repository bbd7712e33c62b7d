//! Bounded admission for the sale's endpoints: at most `in_flight` sale requests run at once,
//! at most `queue` more wait (each no longer than `max_wait`), and everyone else is told at
//! once to come back after `retry_after`. A sale-day burst therefore queues in front of the
//! sale instead of in front of the database, and payments keep their latency.
//!
//! It must never make a request wait without bound, and never admit more than `in_flight`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    pub in_flight: usize,
    pub queue: usize,
    pub max_wait: Duration,
    pub retry_after: Duration,
}

impl Default for AdmissionLimits {
    /// Two sale requests at a time leave the database to payments most of the time. Orders
    /// take the sale's one stock row in turn, so more at once mostly wait on it while their
    /// reads compete with the payment writers for the CPU: on PostgreSQL, 2 instead of 8 gave
    /// payments a median p99 of 34 ms during a burst of orders instead of 45 ms (seven runs
    /// each, alternated; lower in six of the seven pairs), for about a fifth fewer orders
    /// taken in it (the rest are told to come back); on SQLite, whose one writer takes orders
    /// in turn anyway, no difference showed (`docs/benchmarks.md`).
    fn default() -> Self {
        AdmissionLimits {
            in_flight: 2,
            queue: 256,
            max_wait: Duration::from_secs(2),
            retry_after: Duration::from_secs(5),
        }
    }
}

/// The gate is full: come back after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub retry_after: Duration,
}

#[derive(Clone, Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    limits: AdmissionLimits,
}

/// Holding this is being admitted; dropping it lets the next request in.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
}

/// Decrements the waiting count however the wait ends (admitted, timed out, or cancelled
/// because the client went away).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Admission {
        let limits = AdmissionLimits {
            in_flight: limits.in_flight.max(1),
            ..limits
        };
        Admission {
            permits: Arc::new(Semaphore::new(limits.in_flight)),
            waiting: Arc::new(AtomicUsize::new(0)),
            limits,
        }
    }

    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    pub async fn enter(&self) -> Result<Admitted, Busy> {
        let busy = Busy {
            retry_after: self.limits.retry_after,
        };
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Admitted { _permit: permit });
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.limits.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        let _waiting = Waiting(self.waiting.clone());
        match tokio::time::timeout(self.limits.max_wait, self.permits.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => Ok(Admitted { _permit: permit }),
            _ => Err(busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(in_flight: usize, queue: usize) -> AdmissionLimits {
        AdmissionLimits {
            in_flight,
            queue,
            max_wait: Duration::from_millis(200),
            retry_after: Duration::from_secs(3),
        }
    }

    #[tokio::test]
    async fn a_full_gate_with_a_full_queue_turns_requests_away_at_once() {
        let gate = Admission::new(limits(1, 0));
        let first = gate.enter().await.unwrap();
        let started = std::time::Instant::now();
        let refused = gate.enter().await.unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(3));
        assert!(started.elapsed() < Duration::from_millis(100));
        drop(first);
        assert!(gate.enter().await.is_ok());
    }

    #[tokio::test]
    async fn queued_requests_get_in_when_a_place_frees_or_give_up_in_time() {
        let gate = Admission::new(limits(1, 1));
        let first = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The queue's one place is taken: a third request is refused immediately.
        assert!(gate.enter().await.is_err());
        drop(first);
        assert!(waiter.await.unwrap(), "the queued request got in");
        // Nobody frees the place: a queued request gives up after max_wait.
        let _held = gate.enter().await.unwrap();
        let started = std::time::Instant::now();
        assert!(gate.enter().await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }
}
