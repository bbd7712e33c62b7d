//! Rate limits: keyed token buckets (per client IP, per login, per account) that answer "wait
//! this long" instead of letting one caller wear the service down. Time comes from the
//! server's [`Clock`](crate::clock::Clock), so tests need not sleep.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// How many requests a key may make in a burst, and how fast that allowance refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_second: f64,
}

impl Rate {
    pub const fn per_minute(burst: u32, per_minute: u32) -> Rate {
        Rate {
            burst: burst as f64,
            per_second: per_minute as f64 / 60.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

/// A token bucket per key. Keys that have refilled completely are forgotten, so memory stays
/// bounded by the callers of the last few minutes.
#[derive(Debug)]
pub struct KeyedLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Refused: try again after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

const MAX_KEYS_BEFORE_SWEEP: usize = 100_000;

impl KeyedLimiter {
    pub fn new(rate: Rate) -> KeyedLimiter {
        KeyedLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), RetryAfter> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > MAX_KEYS_BEFORE_SWEEP {
            let rate = self.rate;
            buckets.retain(|_, b| refilled(rate, *b, now) < rate.burst);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let tokens = refilled(self.rate, *bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            let wait = (1.0 - tokens) / self.rate.per_second.max(f64::MIN_POSITIVE);
            Err(RetryAfter(wait.ceil().max(1.0) as u64))
        }
    }
}

fn refilled(rate: Rate, bucket: Bucket, now: DateTime<Utc>) -> f64 {
    let elapsed = (now - bucket.at).num_milliseconds().max(0) as f64 / 1000.0;
    (bucket.tokens + elapsed * rate.per_second).min(rate.burst)
}

/// The limits the server applies. Generous for people, tight for scripts.
#[derive(Debug)]
pub struct Limits {
    /// Login attempts per client address.
    pub login_per_ip: KeyedLimiter,
    /// Login attempts per login name (slows password guessing spread over many addresses).
    pub login_per_account: KeyedLimiter,
    /// Registrations per client address.
    pub register_per_ip: KeyedLimiter,
    /// Payment attempts (PIN checks) per resident, on top of the PIN lockout.
    pub pin_per_account: KeyedLimiter,
    /// Sale requests (applications, orders, the sale page) per client address; the admission
    /// gate bounds them all together, this keeps one address from taking the gate.
    pub sale_per_ip: KeyedLimiter,
    /// Changes to a resident's application and orders.
    pub sale_per_account: KeyedLimiter,
}

impl Limits {
    pub fn new(scale: u32) -> Limits {
        let s = scale.max(1);
        Limits {
            login_per_ip: KeyedLimiter::new(Rate::per_minute(20 * s, 20 * s)),
            login_per_account: KeyedLimiter::new(Rate::per_minute(10 * s, 5 * s)),
            register_per_ip: KeyedLimiter::new(Rate::per_minute(10 * s, 10 * s)),
            pin_per_account: KeyedLimiter::new(Rate::per_minute(30 * s, 30 * s)),
            sale_per_ip: KeyedLimiter::new(Rate::per_minute(120 * s, 120 * s)),
            sale_per_account: KeyedLimiter::new(Rate::per_minute(20 * s, 10 * s)),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiter = KeyedLimiter::new(Rate::per_minute(3, 6));
        let t0 = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check("ip", t0), Ok(()));
        }
        assert_eq!(limiter.check("ip", t0), Err(RetryAfter(10)));
        assert_eq!(limiter.check("other", t0), Ok(()), "keys are separate");
        assert_eq!(limiter.check("ip", t0 + Duration::seconds(10)), Ok(()));
        assert!(limiter.check("ip", t0 + Duration::seconds(10)).is_err());
    }
}
