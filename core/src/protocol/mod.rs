//! The HTTP API's request and response types, shared by the backend and the app so that the
//! two cannot drift apart. Paths live here too. Amounts are [`Yen`] (JSON integers), instants
//! are UTC (RFC 3339), calendar dates are JST.
//!
//! Requests deny unknown fields: a typo in a client must be an error, not a silently ignored
//! option.

mod errors;
mod industry;
mod onboarding;
mod points;
mod sale;
mod settlement;
mod store_mode;

pub use errors::{ErrorBody, ErrorCode};
pub use industry::Industry;
pub use onboarding::*;
pub use points::*;
pub use sale::*;
pub use settlement::*;
pub use store_mode::*;

use crate::Yen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// Every API path starts with this.
pub const API_PREFIX: &str = "/api/v1";
/// Header that makes a value-moving POST safe to repeat.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

pub mod paths {
    pub const RESIDENTS: &str = "/api/v1/residents";
    pub const SESSIONS: &str = "/api/v1/sessions";
    pub const ME: &str = "/api/v1/me";
    pub const ME_BALANCE: &str = "/api/v1/me/balance";
    pub const ME_TRANSACTIONS: &str = "/api/v1/me/transactions";
    pub const PROGRAMME: &str = "/api/v1/programme";
    pub const STORES: &str = "/api/v1/stores";
    pub const PAYMENTS: &str = "/api/v1/payments";
    pub const ADMIN_CHARGES: &str = "/api/v1/admin/charges";
    pub const ADMIN_STORES: &str = "/api/v1/admin/stores";
    // Stores: onboarding, store mode, settlement.
    pub const STORE_APPLICATIONS: &str = "/api/v1/store-applications";
    pub const STORE_APPLY_PAGE: &str = "/stores/apply";
    pub const STORE_CHARGES: &str = "/api/v1/store/charges";
    pub const STORE_PAYMENTS: &str = "/api/v1/store/payments";
    pub const STORE_PAYMENTS_STREAM: &str = "/api/v1/store/payments/stream";
    pub const STORE_STATEMENTS: &str = "/api/v1/store/statements";
    pub const ADMIN_POSTERS: &str = "/api/v1/admin/posters.pdf";
    pub const ADMIN_SETTLEMENTS: &str = "/api/v1/admin/settlements";
    // Community points.
    pub const ME_POINTS: &str = "/api/v1/me/points";
    pub const ME_POINTS_CLAIMS: &str = "/api/v1/me/points/claims";
    pub const ADMIN_POINTS_EVENTS: &str = "/api/v1/admin/points/events";

    pub fn admin_store(id: i64) -> String {
        format!("{ADMIN_STORES}/{id}")
    }

    pub fn settlement(period: &str) -> String {
        format!("{ADMIN_SETTLEMENTS}/{period}")
    }

    pub fn store(id: i64) -> String {
        format!("{STORES}/{id}")
    }

    pub fn store_code(id: i64) -> String {
        format!("{STORES}/{id}/code")
    }

    pub fn refunds(payment_id: i64) -> String {
        format!("{PAYMENTS}/{payment_id}/refunds")
    }

    pub fn approve_store(id: i64) -> String {
        format!("{ADMIN_STORES}/{id}/approve")
    }

    pub fn store_staff(id: i64) -> String {
        format!("{ADMIN_STORES}/{id}/staff")
    }

    // The premium set sale.
    pub const ME_SALE: &str = "/api/v1/me/sale";
    pub const ME_SALE_APPLICATION: &str = "/api/v1/me/sale/application";
    pub const SALE_ORDERS: &str = "/api/v1/sale/orders";
    pub const SALE_DRAW: &str = "/api/v1/sale/draw";
    pub const SALE_PROVIDER_NOTIFICATIONS: &str = "/api/v1/sale/provider-notifications";
    pub const ADMIN_SALE: &str = "/api/v1/admin/sale";
    pub const ADMIN_SALE_COMMITMENT: &str = "/api/v1/admin/sale/commitment";
    pub const ADMIN_SALE_DRAW: &str = "/api/v1/admin/sale/draw";
    pub const ADMIN_SALE_EXPIRE: &str = "/api/v1/admin/sale/expire";
    pub const ADMIN_SALE_COUNTER_PURCHASES: &str = "/api/v1/admin/sale/counter-purchases";
    /// The plain-HTML application page (Japanese, no JavaScript).
    pub const SALE_PAGE: &str = "/sale";

    pub fn counter_payment(order_id: i64) -> String {
        format!("/api/v1/admin/sale/orders/{order_id}/counter-payment")
    }
}

// ---------------------------------------------------------------------------------------------
// Residents and sessions

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterResident {
    /// Full name as on the resident register, e.g. 山田 花子.
    pub name: String,
    /// Name in full-width katakana, e.g. ヤマダ ハナコ.
    pub kana: String,
    pub birth_date: NaiveDate,
    /// `NNN-NNNN` or seven digits; must belong to the city.
    pub postal_code: String,
    /// Address inside the city (after the district).
    pub address: String,
    /// One of the programme's districts, e.g. 大間々町.
    pub district: String,
    /// Japanese phone number; also the resident's login.
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
    pub password: String,
    /// 4 to 6 digits, asked at every payment.
    pub pin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResidentRegistered {
    pub resident_id: i64,
    /// The login to use with `POST /api/v1/sessions` (the normalised phone number).
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateSession {
    pub login: String,
    pub password: String,
    pub device_name: String,
    /// The device's ECDSA P-256 public key, SEC1 uncompressed point, standard base64.
    #[serde(default)]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Role {
    Resident,
    StoreStaff,
    Administrator,
    Operator,
    Viewer,
}

impl Role {
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Administrator | Role::Operator | Role::Viewer)
    }

    /// Staff who may change things (not read-only viewers).
    pub fn can_operate(self) -> bool {
        matches!(self, Role::Administrator | Role::Operator)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionCreated {
    /// Bearer token for `Authorization: Bearer …`. Shown once; the server keeps only its hash.
    pub token: String,
    pub role: Role,
    pub display_name: String,
    pub device_id: i64,
    #[serde(default)]
    pub resident_id: Option<i64>,
    #[serde(default)]
    pub store_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Me {
    pub role: Role,
    pub display_name: String,
    pub device_id: i64,
    #[serde(default)]
    pub resident: Option<ResidentProfile>,
    #[serde(default)]
    pub store_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResidentProfile {
    pub resident_id: i64,
    pub name: String,
    pub kana: String,
    pub birth_date: NaiveDate,
    pub postal_code: String,
    pub district: String,
    pub address: String,
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Programme

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProgrammeInfo {
    pub id: String,
    pub display_name: String,
    pub city: String,
    pub set_price: Yen,
    pub set_value: Yen,
    pub sets_on_sale: i64,
    pub limit_per_resident: i64,
    pub application: DateWindow,
    pub sale: DateWindow,
    pub usage: DateWindow,
    pub districts: Vec<String>,
}

/// An inclusive range of JST calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DateWindow {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

// ---------------------------------------------------------------------------------------------
// Balances and history

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum PurseKind {
    /// Premium currency of one issue; expires at the end of that issue's usage window.
    Premium,
    /// Money the resident charged.
    Charged,
    /// Community points, 1 pt = ¥1 when the resident chooses.
    Points,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Purse {
    pub kind: PurseKind,
    /// The programme (issue) for premium purses.
    #[serde(default)]
    pub issue: Option<String>,
    pub balance: Yen,
    /// The first instant at which the purse can no longer be spent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Balance {
    /// What the resident can spend now in yen: unexpired premium purses plus charged money.
    pub total: Yen,
    /// Community points that can be spent now.
    pub points: Yen,
    pub purses: Vec<Purse>,
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum TransactionKind {
    Charge,
    Payment,
    Refund,
    Purchase,
    Expiry,
    Points,
}

/// One line of a resident's history. `amount` is signed from the resident's side: a payment
/// is negative, a charge or refund positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Transaction {
    pub id: i64,
    pub kind: TransactionKind,
    pub amount: Yen,
    #[serde(default)]
    pub store_id: Option<i64>,
    #[serde(default)]
    pub store_name: Option<String>,
    /// For a refund: the payment it belongs to.
    #[serde(default)]
    pub payment_id: Option<i64>,
    pub legs: Vec<Leg>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TransactionPage {
    pub items: Vec<Transaction>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct TransactionQuery {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The part of a payment, refund or charge that touched one purse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Leg {
    pub purse: PurseKind,
    #[serde(default)]
    pub issue: Option<String>,
    pub amount: Yen,
}

// ---------------------------------------------------------------------------------------------
// Stores

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum StoreStatus {
    Pending,
    Approved,
    Rejected,
    Suspended,
}

/// A store as the directory shows it (and the app caches it for offline use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreSummary {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub industry: Industry,
    pub district: String,
    pub address: String,
    /// False when the store can no longer take payments (suspended); the app drops it.
    pub accepts_payments: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreDirectory {
    pub stores: Vec<StoreSummary>,
    /// Pass as `since` next time to get only what changed.
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct StoreDirectoryQuery {
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreDetail {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub romanised_name: String,
    pub industry: Industry,
    pub district: String,
    pub address: String,
    pub postal_code: String,
    pub status: StoreStatus,
    pub updated_at: DateTime<Utc>,
}

/// A store's static QR code (EMV merchant-presented, point of initiation 11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreCode {
    pub store_id: i64,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateStore {
    pub name: String,
    pub kana: String,
    /// Latin-letter name for the QR code's tag 59 (at most 25 characters).
    pub romanised_name: String,
    pub industry: Industry,
    pub district: String,
    pub address: String,
    pub postal_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateStoreStaff {
    pub login: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreStaffCreated {
    pub store_id: i64,
    pub login: String,
}

// ---------------------------------------------------------------------------------------------
// Payments, refunds, charges

/// A resident pays a store, named by its id or by the payload of its scanned store code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentRequest {
    #[serde(default)]
    pub store_id: Option<i64>,
    #[serde(default)]
    pub store_code: Option<String>,
    pub amount: Yen,
    pub pin: String,
    /// Spend community points first (1 pt = ¥1).
    #[serde(default)]
    pub use_points: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentReceipt {
    pub payment_id: i64,
    pub store_id: i64,
    pub store_name: String,
    pub amount: Yen,
    /// One leg per purse drawn on, in the order they were drawn.
    pub legs: Vec<Leg>,
    /// What the resident can still spend (yen, excluding points).
    pub balance_after: Yen,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefundRequest {
    pub amount: Yen,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefundReceipt {
    pub refund_id: i64,
    pub payment_id: i64,
    pub amount: Yen,
    pub legs: Vec<Leg>,
    /// Everything refunded on this payment so far, this refund included.
    pub refunded_total: Yen,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum ChargeMethod {
    /// Cash at a city counter.
    Cash,
    BankTransfer,
    /// Card or other cashless payment.
    Card,
}

/// Staff credit a resident's charged purse, e.g. cash paid at a counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChargeRequest {
    pub resident_id: i64,
    pub amount: Yen,
    pub method: ChargeMethod,
    pub receipt_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChargeReceipt {
    pub charge_id: i64,
    pub resident_id: i64,
    pub amount: Yen,
    pub balance_after: Yen,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_request_rejects_unknown_fields() {
        let err = serde_json::from_str::<PaymentRequest>(
            r#"{"store_id":1,"amount":100,"pin":"1234","tip":5}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn purse_kinds_are_snake_case_on_the_wire() {
        let purse = Purse {
            kind: PurseKind::Premium,
            issue: Some("midori-2024".into()),
            balance: Yen(6500),
            expires_at: None,
        };
        let json = serde_json::to_value(&purse).unwrap();
        assert_eq!(json["kind"], "premium");
        assert_eq!(json["balance"], 6500);
    }
}
