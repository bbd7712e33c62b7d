//! Store mode: store staff charge a resident by scanning the resident's code, see payments the
//! moment they land, read a day's sales, and refund recent payments.
//!
//! A resident code is accepted only when it decodes, was signed by the key of the device it
//! names (registered at that device's login), is fresh, was never used before (its nonce is
//! kept until the code can no longer be fresh), and the device belongs to a signed-in resident;
//! the amount must not exceed the programme's cap for payments without a PIN. The payment
//! itself is the ledger's, exactly as when the resident pays.
//!
//! Must never charge on a code that failed any of these checks, and never show the store the
//! resident's name or balance.

pub mod feed;

use crate::clock::{from_millis, to_millis};
use crate::db::{Db, Tx, sum};
use crate::ledger::{self, LedgerError, PaymentChannel, PaymentInput};
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{StoreChargeReceipt, StoreSaleLine, StoreSales};
use chiiki_core::qr::{QrError, decode_resident_code};
use chiiki_core::time::jst_day_start;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::AssertSqlSafe;

pub use feed::{AfterCommit, PaymentFeed};

/// The programme's rules for store mode (its `[stores]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRules {
    /// The largest payment a store may take by scanning a resident code (no PIN is asked).
    pub resident_code_max_payment: Yen,
    /// How far a phone's clock may differ from the server's.
    pub resident_code_clock_skew_secs: i64,
    /// Store staff may refund payments younger than this many days; older ones need city staff.
    pub refund_days: i64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStoreRules {
    resident_code_max_payment: i64,
    resident_code_clock_skew_secs: i64,
    refund_days: i64,
}

impl RawStoreRules {
    pub fn validate(&self) -> Result<StoreRules, String> {
        if self.resident_code_max_payment <= 0 {
            return Err("stores.resident_code_max_payment must be positive".into());
        }
        if !(0..=600).contains(&self.resident_code_clock_skew_secs) {
            return Err("stores.resident_code_clock_skew_secs must be 0 to 600".into());
        }
        if !(1..=366).contains(&self.refund_days) {
            return Err("stores.refund_days must be 1 to 366".into());
        }
        Ok(StoreRules {
            resident_code_max_payment: Yen(self.resident_code_max_payment),
            resident_code_clock_skew_secs: self.resident_code_clock_skew_secs,
            refund_days: self.refund_days,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreModeError {
    /// Malformed, tampered, expired, not yet valid: what the QR codec found.
    #[error("resident code: {0}")]
    Code(QrError),
    /// The device the code names is not known here (another programme's, or made up).
    #[error("the code's device is unknown")]
    UnknownDevice,
    /// The device is not a resident's, or it is signed out.
    #[error("the code's device is not a signed-in resident's")]
    NotAResident,
    #[error("the code was already used")]
    Replayed,
    #[error("store staff may refund payments of the last {days} days only")]
    RefundTooOld { days: i64 },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A resident code that passed every check but single use (which is claimed with the payment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCode {
    pub resident_id: i64,
    pub device_id: i64,
    pub nonce: String,
    /// Until when the nonce must be remembered.
    pub keep_until: DateTime<Utc>,
}

/// Checks a scanned resident code: format, the device and its owner, freshness, signature.
pub async fn verify_code(
    db: &Db,
    payload: &str,
    rules: &StoreRules,
    now: DateTime<Utc>,
) -> Result<VerifiedCode, StoreModeError> {
    let code = decode_resident_code(payload.trim()).map_err(StoreModeError::Code)?;
    let device = sqlx::query_as::<_, (Option<Vec<u8>>, String, i64)>(
        "SELECT d.public_key, c.principal_kind, c.principal_id
         FROM devices d JOIN credentials c ON c.id = d.credential_id WHERE d.id = $1",
    )
    .bind(code.token.device_id)
    .fetch_optional(db.reader())
    .await?;
    let Some((public_key, kind, resident_id)) = device else {
        return Err(StoreModeError::UnknownDevice);
    };
    if kind != crate::auth::PrincipalKind::Resident.as_str() {
        return Err(StoreModeError::NotAResident);
    }
    // A code from a phone that signed out (or whose session ended) is not honoured.
    let live_sessions = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM sessions WHERE device_id = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(code.token.device_id)
    .bind(to_millis(now))
    .fetch_one(db.reader())
    .await?;
    if live_sessions == 0 {
        return Err(StoreModeError::NotAResident);
    }
    let public_key = public_key.ok_or(StoreModeError::Code(QrError::BadSignature))?;
    code.check_fresh(now.timestamp(), rules.resident_code_clock_skew_secs)
        .map_err(StoreModeError::Code)?;
    code.verify(&public_key).map_err(StoreModeError::Code)?;
    let valid_until = code
        .token
        .issued_at
        .saturating_add(i64::from(code.token.validity_secs))
        .saturating_add(rules.resident_code_clock_skew_secs);
    Ok(VerifiedCode {
        resident_id,
        device_id: code.token.device_id,
        nonce: hex::encode(code.token.nonce),
        keep_until: DateTime::from_timestamp(valid_until, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
    })
}

/// Charges a verified code inside `tx`: the payment, then the nonce (a second use of the same
/// code finds it and is refused, rolling its payment back).
pub async fn charge(
    tx: &mut Tx,
    code: &VerifiedCode,
    store_id: i64,
    staff_actor: &str,
    amount: Yen,
    programme: &Programme,
    now: DateTime<Utc>,
) -> Result<StoreChargeReceipt, StoreModeError> {
    let input = PaymentInput {
        resident_id: code.resident_id,
        store_id,
        amount,
        use_points: false,
        programme,
        channel: PaymentChannel::ResidentCode {
            device_id: code.device_id,
            actor: staff_actor,
        },
    };
    let receipt = ledger::pay(tx, input, now).await?;
    // Codes of this device that can no longer be fresh need not be remembered.
    sqlx::query("DELETE FROM resident_code_nonces WHERE device_id = $1 AND expires_at < $2")
        .bind(code.device_id)
        .bind(to_millis(now))
        .execute(&mut **tx)
        .await?;
    let claimed = sqlx::query(
        "INSERT INTO resident_code_nonces (device_id, nonce, expires_at, payment_id)
         VALUES ($1, $2, $3, $4) ON CONFLICT (device_id, nonce) DO NOTHING",
    )
    .bind(code.device_id)
    .bind(&code.nonce)
    .bind(to_millis(code.keep_until))
    .bind(receipt.payment_id)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() != 1 {
        return Err(StoreModeError::Replayed);
    }
    Ok(StoreChargeReceipt {
        payment_id: receipt.payment_id,
        store_id,
        amount,
        created_at: now,
        message: received_message(amount),
    })
}

/// 「¥1,200 受け取りました」
pub fn received_message(amount: Yen) -> String {
    format!("{amount} 受け取りました")
}

/// 「¥500 返金しました」
pub fn refunded_message(amount: Yen) -> String {
    format!("{amount} 返金しました")
}

/// Store staff may refund only payments younger than the programme's `refund_days`; city
/// staff may refund any. Reads the payment's time (which never changes), so checking before
/// the refund's own transaction is safe.
pub async fn check_refund_age(
    db: &Db,
    payment_id: i64,
    store_id: i64,
    rules: &StoreRules,
    now: DateTime<Utc>,
) -> Result<(), StoreModeError> {
    let payment = crate::ledger::find_payment(db.reader(), payment_id)
        .await?
        .filter(|p| p.store_id == store_id)
        .ok_or(LedgerError::UnknownPayment)?;
    if refund_allowed(payment.created_at, now, rules.refund_days) {
        Ok(())
    } else {
        Err(StoreModeError::RefundTooOld {
            days: rules.refund_days,
        })
    }
}

/// Whether a payment made at `paid_at` is young enough for store staff to refund at `now`.
pub fn refund_allowed(paid_at: DateTime<Utc>, now: DateTime<Utc>, days: i64) -> bool {
    now < paid_at + Duration::days(days)
}

/// A store's payments and refunds on one JST day.
pub async fn sales(db: &Db, store_id: i64, date: NaiveDate) -> Result<StoreSales, StoreModeError> {
    let start = jst_day_start(date);
    let end = jst_day_start(
        date.checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX),
    );
    let rows = sqlx::query_as::<_, (i64, i64, i64, i64)>(
        "SELECT id, amount, refunded, created_at FROM operations
         WHERE kind = 'payment' AND store_id = $1 AND created_at >= $2 AND created_at < $3
         ORDER BY id DESC",
    )
    .bind(store_id)
    .bind(to_millis(start))
    .bind(to_millis(end))
    .fetch_all(db.reader())
    .await?;
    let (refund_count, refunds) = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(format!(
        "SELECT COUNT(*), {} FROM operations
         WHERE kind = 'refund' AND store_id = $1 AND created_at >= $2 AND created_at < $3",
        sum("amount")
    )))
    .bind(store_id)
    .bind(to_millis(start))
    .bind(to_millis(end))
    .fetch_one(db.reader())
    .await?;
    let gross: i64 = rows.iter().map(|r| r.1).sum();
    Ok(StoreSales {
        store_id,
        date,
        payment_count: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        gross: Yen(gross),
        refund_count,
        refunds: Yen(refunds),
        net: Yen(gross - refunds),
        payments: rows
            .into_iter()
            .map(|(payment_id, amount, refunded, created_at)| StoreSaleLine {
                payment_id,
                amount: Yen(amount),
                refunded: Yen(refunded),
                created_at: from_millis(created_at),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn store_staff_refund_only_young_payments() {
        let paid = Utc.with_ymd_and_hms(2024, 12, 1, 3, 0, 0).unwrap();
        assert!(refund_allowed(
            paid,
            paid + Duration::days(7) - Duration::seconds(1),
            7
        ));
        assert!(!refund_allowed(paid, paid + Duration::days(7), 7));
    }

    #[test]
    fn messages_read_as_the_store_expects() {
        assert_eq!(received_message(Yen(1200)), "¥1,200 受け取りました");
        assert_eq!(refunded_message(Yen(500)), "¥500 返金しました");
    }

    #[test]
    fn store_rules_are_checked() {
        let good = RawStoreRules {
            resident_code_max_payment: 30_000,
            resident_code_clock_skew_secs: 60,
            refund_days: 30,
        };
        assert!(good.validate().is_ok());
        for bad in [
            RawStoreRules {
                resident_code_max_payment: 0,
                ..good
            },
            RawStoreRules {
                refund_days: 0,
                ..good
            },
            RawStoreRules {
                resident_code_clock_skew_secs: -1,
                ..good
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }
}
