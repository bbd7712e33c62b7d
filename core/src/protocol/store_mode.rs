//! Store mode on the wire: store staff charge a resident by scanning the resident's code,
//! watch payments arrive, and read the day's sales.

use crate::Yen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// Store staff charge the resident whose code they scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreChargeRequest {
    /// The scanned resident code (`CKR:…`).
    pub payload: String,
    pub amount: Yen,
}

/// What the store sees of a charge: never the resident's name or balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreChargeReceipt {
    pub payment_id: i64,
    pub store_id: i64,
    pub amount: Yen,
    pub created_at: DateTime<Utc>,
    /// For the screen, e.g. 「¥1,200 受け取りました」.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum StoreEventKind {
    Payment,
    Refund,
}

/// One event of the live feed (`GET /api/v1/store/payments/stream`, server-sent events whose
/// `data` is this object as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StorePaymentEvent {
    pub kind: StoreEventKind,
    pub payment_id: i64,
    /// For a refund: the refund's own id.
    #[serde(default)]
    pub refund_id: Option<i64>,
    pub store_id: i64,
    pub amount: Yen,
    pub created_at: DateTime<Utc>,
    /// 「¥1,200 受け取りました」 or 「¥500 返金しました」.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct StoreSalesQuery {
    /// A JST calendar day; today when absent.
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreSaleLine {
    pub payment_id: i64,
    pub amount: Yen,
    /// Refunded so far (on any day).
    pub refunded: Yen,
    pub created_at: DateTime<Utc>,
}

/// A store's sales on one JST day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreSales {
    pub store_id: i64,
    pub date: NaiveDate,
    /// Newest first.
    pub payments: Vec<StoreSaleLine>,
    pub payment_count: i64,
    pub gross: Yen,
    /// Refunds made that day (of payments of any day).
    pub refund_count: i64,
    pub refunds: Yen,
    pub net: Yen,
}
