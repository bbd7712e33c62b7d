//! The premium set sale: applications during the application window, the auditable lottery,
//! orders and their payment (counter or payment provider), issuance through the ledger, the
//! additional sale of what is left, and expiry of unspent premium currency.
//!
//! This module owns the sale's rules and its tables (`sale_*`). It never moves value itself:
//! sets are issued by `ledger::issue_sets` and expiry is `ledger::expire_issue`, so the
//! ledger's invariants stay the ledger's. It must never sell more sets than the programme has
//! on sale, nor more to one resident than the programme's limit: both are guarded by
//! conditional updates (`sale_stock`, `sale_buyers`), never by a read followed by a write.

pub mod admission;
pub mod applications;
pub mod expiry;
pub mod lottery;
pub mod purchase;
pub mod webhook;

use crate::ledger::LedgerError;
use crate::programme::{Programme, Window};
use chiiki_core::Yen;
use chiiki_core::protocol::SalePhase;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use admission::{Admission, AdmissionLimits, Busy};
pub use webhook::WebhookSecret;

#[derive(Debug, thiserror::Error)]
pub enum SaleError {
    #[error("applications are accepted only inside the application window")]
    ApplicationsClosed { window: Window },
    #[error("sets must be 1 to {limit}")]
    SetsOutOfRange { limit: i64 },
    #[error("no application")]
    NoApplication,
    #[error("the application window has not closed yet")]
    ApplicationsStillOpen { closes_at: DateTime<Utc> },
    #[error("no seed commitment has been published")]
    NotCommitted,
    #[error("a seed commitment has already been published")]
    AlreadyCommitted,
    #[error("the lottery has already been drawn")]
    AlreadyDrawn,
    #[error("the lottery has not been drawn yet")]
    NotDrawn,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("the seed does not match the published commitment")]
    SeedMismatch,
    #[error("the applications differ from those committed to")]
    ApplicationsChanged,
    #[error("sets can be paid for only inside the sale window")]
    SaleClosed { window: Window },
    #[error("the additional sale is not open")]
    AdditionalSaleNotOpen {
        opens_at: DateTime<Utc>,
        closes_at: DateTime<Utc>,
    },
    #[error("sold out ({remaining} sets left)")]
    SoldOut { remaining: i64 },
    #[error("the limit of {limit} sets per resident is reached ({held} held)")]
    LimitReached { limit: i64, held: i64 },
    #[error("no such order")]
    UnknownOrder,
    #[error("the order was not paid in time")]
    OrderLapsed { pay_by: DateTime<Utc> },
    #[error("the order is already paid")]
    OrderAlreadyPaid,
    #[error("the notified amount {notified} is not the {expected} due")]
    AmountMismatch { expected: Yen, notified: Yen },
    #[error("this receipt number or payment id was already used for another order")]
    ReferenceUsed,
    #[error("the signature is missing or wrong: {0}")]
    BadSignature(&'static str),
    #[error("the notification's timestamp is outside the replay window")]
    StaleNotification,
    #[error("no webhook secret is configured")]
    WebhookNotConfigured,
    #[error("premium currency of this issue can be spent until {expires_at}")]
    ExpiryTooEarly { expires_at: DateTime<Utc> },
    #[error("no such resident")]
    UnknownResident,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type SaleResult<T> = Result<T, SaleError>;

/// Where the sale stands at `now`, given whether the lottery has been drawn.
pub fn phase(programme: &Programme, drawn: bool, now: DateTime<Utc>) -> SalePhase {
    if now < programme.application.start() {
        SalePhase::NotYetOpen
    } else if now < programme.application.end() {
        SalePhase::ApplicationsOpen
    } else if now >= programme.sale.end() {
        SalePhase::Closed
    } else if !drawn {
        SalePhase::AwaitingDraw
    } else if now < programme.winners_pay_by() {
        SalePhase::WinnersPaying
    } else {
        SalePhase::AdditionalSale
    }
}

/// What the sale needs at run time beyond the programme: the payment provider's webhook
/// secret and the admission gate in front of the sale's endpoints.
#[derive(Clone, Debug)]
pub struct SaleRuntime {
    pub webhook_secret: Option<WebhookSecret>,
    /// How far a notification's timestamp may be from now (replay window).
    pub webhook_tolerance: Duration,
    pub admission: Admission,
}

/// Server settings for the sale, from the command line or the environment.
#[derive(Clone, Debug, Default)]
pub struct SaleSettings {
    pub webhook_secret: Option<String>,
    pub admission: AdmissionLimits,
}

/// Five minutes either way, as payment providers commonly use.
pub const DEFAULT_WEBHOOK_TOLERANCE: Duration = Duration::from_secs(300);

impl SaleRuntime {
    pub fn new(settings: SaleSettings) -> SaleRuntime {
        SaleRuntime {
            webhook_secret: settings
                .webhook_secret
                .as_deref()
                .and_then(WebhookSecret::new),
            webhook_tolerance: DEFAULT_WEBHOOK_TOLERANCE,
            admission: Admission::new(settings.admission),
        }
    }
}

impl Default for SaleRuntime {
    fn default() -> Self {
        SaleRuntime::new(SaleSettings::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn jst(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        chiiki_core::time::jst()
            .with_ymd_and_hms(y, m, d, h, min, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_phase_follows_the_programme_windows_in_jst() {
        let p = Programme::midori_2024().unwrap();
        let at = |t| phase(&p, true, t);
        assert_eq!(at(jst(2024, 9, 30, 23, 59, 59)), SalePhase::NotYetOpen);
        assert_eq!(at(jst(2024, 10, 1, 0, 0, 0)), SalePhase::ApplicationsOpen);
        assert_eq!(
            at(jst(2024, 10, 21, 23, 59, 59)),
            SalePhase::ApplicationsOpen
        );
        assert_eq!(
            phase(&p, false, jst(2024, 10, 22, 0, 0, 0)),
            SalePhase::AwaitingDraw
        );
        assert_eq!(at(jst(2024, 11, 30, 23, 59, 59)), SalePhase::WinnersPaying);
        assert_eq!(at(jst(2024, 12, 1, 0, 0, 0)), SalePhase::AdditionalSale);
        assert_eq!(at(jst(2025, 1, 1, 0, 0, 0)), SalePhase::Closed);
    }
}
