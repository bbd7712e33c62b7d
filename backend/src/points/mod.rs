//! Community points: staff define events, each event has a city-signed code (rotating on a
//! venue screen, or printed for a fixed window), a resident who scans it gets the event's
//! points in a points purse that lapses on its own schedule. This module owns the rules that
//! stop farming (once per resident or per day, the code's window and rotation, the programme,
//! capacity, the city's signature); it never moves value itself: the ledger does.
//!
//! - [`events`]: defining and changing events (staff).
//! - [`codes`]: making and checking event codes with the city's key from the key file.
//! - [`claims`]: a resident's participation, their points summary, and the expiry job.

pub mod claims;
pub mod codes;
pub mod events;

use crate::ledger::LedgerError;
use chiiki_core::qr::QrError;
use chrono::{DateTime, Utc};

/// The `[points]` table of a programme file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointsRules {
    /// Points earned on a JST day lapse at the end of the day this many days later.
    pub expiry_days: u32,
    /// A venue screen shows a new code this often (seconds).
    pub rotation_secs: u32,
    /// How long after its slot a rotating code is still accepted (a resident who scanned just
    /// before it changed); a screenshot older than this is refused.
    pub rotation_grace_secs: u32,
    /// The most points one participation may give (a typo guard for staff).
    pub max_points_per_participation: i64,
}

impl Default for PointsRules {
    fn default() -> Self {
        PointsRules {
            expiry_days: 365,
            rotation_secs: 30,
            rotation_grace_secs: 30,
            max_points_per_participation: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPointsRules {
    expiry_days: i64,
    rotation_secs: i64,
    rotation_grace_secs: i64,
    max_points_per_participation: i64,
}

impl RawPointsRules {
    pub fn validate(&self) -> Result<PointsRules, String> {
        let expiry_days = u32::try_from(self.expiry_days)
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or("points.expiry_days must be 1 to 3660")?;
        let rotation_secs = u32::try_from(self.rotation_secs)
            .ok()
            .filter(|s| (10..=600).contains(s))
            .ok_or("points.rotation_secs must be 10 to 600")?;
        let rotation_grace_secs = u32::try_from(self.rotation_grace_secs)
            .ok()
            .filter(|&s| s <= rotation_secs * 4)
            .ok_or("points.rotation_grace_secs must be 0 to four rotations")?;
        if !(1..=1_000_000).contains(&self.max_points_per_participation) {
            return Err("points.max_points_per_participation must be 1 to 1000000".into());
        }
        Ok(PointsRules {
            expiry_days,
            rotation_secs,
            rotation_grace_secs,
            max_points_per_participation: self.max_points_per_participation,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    #[error("no such event")]
    UnknownEvent,
    #[error("invalid {field}: {reason}")]
    InvalidSpec { field: &'static str, reason: String },
    /// Malformed: not an event code, damaged, unknown version.
    #[error("unreadable event code: {0}")]
    Code(QrError),
    /// The city's signature does not verify: altered or forged.
    #[error("the event code's signature does not verify")]
    Tampered,
    #[error("event code of programme {found}")]
    OtherProgramme { found: String },
    #[error("the event has not started")]
    NotStarted { starts_at: DateTime<Utc> },
    /// A printed code past its window, or an event that is over.
    #[error("the event code's window is over")]
    Expired,
    /// A rotating code older than its slot and grace: a screenshot, or a photo passed on.
    #[error("the rotating event code has been replaced")]
    Rotated,
    #[error("already claimed")]
    AlreadyClaimed { daily: bool },
    #[error("the event is full")]
    Full,
    /// The key file has no event-signing key (a key file older than points).
    #[error("no event-signing key is configured")]
    KeyMissing,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl PointsError {
    /// A stable name for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            PointsError::UnknownEvent => "unknown_event",
            PointsError::InvalidSpec { .. } => "invalid_spec",
            PointsError::Code(_) => "invalid_code",
            PointsError::Tampered => "tampered",
            PointsError::OtherProgramme { .. } => "other_programme",
            PointsError::NotStarted { .. } => "not_started",
            PointsError::Expired => "expired",
            PointsError::Rotated => "rotated",
            PointsError::AlreadyClaimed { .. } => "already_claimed",
            PointsError::Full => "full",
            PointsError::KeyMissing => "key_missing",
            PointsError::Ledger(_) => "ledger",
            PointsError::Db(_) => "db",
        }
    }
}

pub type PointsResult<T> = Result<T, PointsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_checked_when_the_programme_is_read() {
        let raw = |expiry_days, rotation_secs, rotation_grace_secs, max| RawPointsRules {
            expiry_days,
            rotation_secs,
            rotation_grace_secs,
            max_points_per_participation: max,
        };
        assert_eq!(
            raw(365, 30, 30, 10_000).validate(),
            Ok(PointsRules::default())
        );
        assert!(raw(0, 30, 30, 100).validate().is_err());
        assert!(raw(365, 5, 0, 100).validate().is_err());
        assert!(raw(365, 30, 121, 100).validate().is_err());
        assert!(raw(365, 30, -1, 100).validate().is_err());
        assert!(raw(365, 30, 30, 0).validate().is_err());
    }
}
