//! The premium set sale on the wire: applications, the lottery's public record, orders (what a
//! resident has to pay, how and by when), purchases recorded at a counter or notified by the
//! payment provider, and expiry. Shared by the backend and the app.
//!
//! The lottery's published record ([`PublicDraw`]) is also what `chiiki sale verify-draw`
//! reads: anyone can recompute the draw from it (docs/lottery.md).

use super::DateWindow;
use crate::Yen;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Header carrying the payment provider's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SALE_SIGNATURE_HEADER: &str = "Chiiki-Signature";

/// The name of the published draw algorithm (docs/lottery.md). A new algorithm gets a new name.
pub const LOTTERY_ALGORITHM: &str = "chiiki-lottery-v1";

/// How sets are allocated when applications ask for more than are on sale. Written in
/// programme files as `allocation = "lottery"` or `allocation = "one-each-first"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum AllocationRule {
    /// Each application is drawn whole, in the draw order, while sets remain.
    Lottery,
    /// Everyone drawn gets one set while sets remain; then the rest of each application,
    /// whole, in the same order.
    OneEachFirst,
}

impl AllocationRule {
    pub fn as_str(self) -> &'static str {
        match self {
            AllocationRule::Lottery => "lottery",
            AllocationRule::OneEachFirst => "one-each-first",
        }
    }

    pub fn parse(s: &str) -> Option<AllocationRule> {
        match s {
            "lottery" => Some(AllocationRule::Lottery),
            "one-each-first" => Some(AllocationRule::OneEachFirst),
            _ => None,
        }
    }
}

/// Where the sale stands, as a resident sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SalePhase {
    /// Before the application window.
    NotYetOpen,
    /// Residents may apply, change or withdraw.
    ApplicationsOpen,
    /// The window has closed; the lottery has not been drawn yet.
    AwaitingDraw,
    /// Drawn: winners pay until their deadline.
    WinnersPaying,
    /// First come, first served for what is left, until the sale window ends.
    AdditionalSale,
    /// The sale window has ended.
    Closed,
}

/// Apply for (or change an application to) `sets` sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApplicationRequest {
    pub sets: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SaleApplication {
    pub sets: i64,
    /// The resident's pseudonymous id in the published draw, to find themselves there.
    pub pseudonym: String,
    pub updated_at: DateTime<Utc>,
}

/// What the lottery gave one applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DrawOutcome {
    pub requested: i64,
    pub won: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum OrderChannel {
    /// Sets won in the lottery.
    Lottery,
    /// Sets taken in the additional sale.
    Additional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum OrderStatus {
    /// Waiting for payment until `pay_by`.
    Due,
    /// Paid; the sets are in the resident's premium purse.
    Paid,
    /// Not paid in time; the sets went back on sale.
    Lapsed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SalePaymentMethod {
    /// Cash at a city counter; staff record the receipt number.
    Counter,
    /// Online through the city's payment provider, quoting the order id.
    Provider,
}

/// Sets a resident has to pay for (or has paid for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SaleOrder {
    pub order_id: i64,
    pub channel: OrderChannel,
    pub sets: i64,
    /// Yen to pay: sets × set price.
    pub amount: Yen,
    /// Currency credited on payment: sets × set value.
    pub value: Yen,
    pub status: OrderStatus,
    /// The first instant at which the order can no longer be paid.
    pub pay_by: DateTime<Utc>,
    /// How the order can be paid.
    pub payment_methods: Vec<SalePaymentMethod>,
    #[serde(default)]
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The additional sale as a resident sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AdditionalSaleInfo {
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// Sets still on sale (absent before the draw).
    #[serde(default)]
    pub remaining: Option<i64>,
}

/// Everything a resident needs to know about the sale: `GET /api/v1/me/sale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MySale {
    pub programme: String,
    pub phase: SalePhase,
    pub application_window: DateWindow,
    pub sale_window: DateWindow,
    pub set_price: Yen,
    pub set_value: Yen,
    pub limit_per_resident: i64,
    /// Winners pay before this instant; their unpaid sets then go to the additional sale.
    pub winners_pay_by: DateTime<Utc>,
    #[serde(default)]
    pub application: Option<SaleApplication>,
    /// Present once the lottery is drawn and the resident had applied.
    #[serde(default)]
    pub result: Option<DrawOutcome>,
    /// Newest first.
    pub orders: Vec<SaleOrder>,
    /// Sets the resident holds (paid, or due and not lapsed): what the limit counts.
    pub sets_held: i64,
    pub additional_sale: AdditionalSaleInfo,
}

/// Take sets in the additional sale (first come, first served).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OrderRequest {
    pub sets: i64,
}

/// Staff record a counter payment for a due order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CounterPaymentRequest {
    pub receipt_number: String,
}

/// Staff sell sets in the additional sale at a counter, paid on the spot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CounterPurchaseRequest {
    pub resident_id: i64,
    pub sets: i64,
    pub receipt_number: String,
}

/// A paid order and what was issued for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SalePurchaseReceipt {
    pub order_id: i64,
    pub resident_id: i64,
    pub sets: i64,
    pub amount_paid: Yen,
    pub value_issued: Yen,
    pub method: SalePaymentMethod,
    pub reference: String,
    /// The ledger operation that issued the sets.
    pub purchase_id: i64,
    pub paid_at: DateTime<Utc>,
}

/// The payment provider's notification that an order was paid (the signed raw body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderNotification {
    /// The provider's own id of the payment; a repeat with the same id issues nothing more.
    pub payment_id: String,
    pub order_id: i64,
    pub amount: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProviderAck {
    pub order_id: i64,
    /// False when this payment had already been processed (nothing was issued again).
    pub issued_now: bool,
    pub receipt: SalePurchaseReceipt,
}

/// Staff publish the SHA-256 of the seed before the draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CommitRequest {
    /// Lowercase hex SHA-256 of the seed's 64 ASCII characters.
    pub commitment: String,
}

/// Staff reveal the seed and draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DrawRequest {
    /// 64 lowercase hex characters.
    pub seed: String,
}

/// One application as published: who is hidden behind a pseudonym.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PublishedApplication {
    pub pseudonym: String,
    pub sets: i64,
}

/// One application's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DrawResult {
    pub pseudonym: String,
    pub requested: i64,
    pub won: i64,
    /// Position in the draw order, from 1.
    pub rank: i64,
}

/// The lottery's public record: `GET /api/v1/sale/draw`. Published when staff commit to a
/// seed (without seed and results) and completed by the draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PublicDraw {
    pub programme: String,
    pub algorithm: String,
    pub rule: AllocationRule,
    pub sets_available: i64,
    /// SHA-256 over the applications' canonical text (docs/lottery.md).
    pub applications_hash: String,
    /// SHA-256 of the seed, published before the draw.
    pub commitment: String,
    pub committed_at: DateTime<Utc>,
    #[serde(default)]
    pub seed: Option<String>,
    #[serde(default)]
    pub drawn_at: Option<DateTime<Utc>>,
    /// Sorted by pseudonym.
    pub applications: Vec<PublishedApplication>,
    /// Sorted by pseudonym; absent until the draw.
    #[serde(default)]
    pub results: Option<Vec<DrawResult>>,
}

/// Sale figures for staff: `GET /api/v1/admin/sale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SaleSummary {
    pub programme: String,
    pub phase: SalePhase,
    pub sets_on_sale: i64,
    pub applications: i64,
    pub sets_requested: i64,
    /// Sets paid for (issued).
    pub sets_sold: i64,
    /// Sets in orders awaiting payment.
    pub sets_due: i64,
    /// Sets anyone can still take (absent before the draw).
    #[serde(default)]
    pub sets_remaining: Option<i64>,
}

/// What one expiry run moved: `chiiki sale expire` and `POST /api/v1/admin/sale/expire`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ExpirySummary {
    pub issue: String,
    pub expired_at: DateTime<Utc>,
    /// Residents whose purses had something left this run (0 when run again).
    pub residents: i64,
    pub amount: Yen,
    /// Everything lapsed for this issue so far, over every run.
    pub total_lapsed: Yen,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_rules_are_written_as_in_programme_files() {
        for rule in [AllocationRule::Lottery, AllocationRule::OneEachFirst] {
            let json = serde_json::to_value(rule).unwrap();
            assert_eq!(json, rule.as_str());
            assert_eq!(AllocationRule::parse(rule.as_str()), Some(rule));
        }
        assert_eq!(AllocationRule::OneEachFirst.as_str(), "one-each-first");
        assert_eq!(AllocationRule::parse("raffle"), None);
    }

    #[test]
    fn sale_requests_reject_unknown_fields() {
        assert!(serde_json::from_str::<ApplicationRequest>(r#"{"sets":1,"x":1}"#).is_err());
        assert!(
            serde_json::from_str::<ProviderNotification>(
                r#"{"payment_id":"p","order_id":1,"amount":5000,"tip":1}"#
            )
            .is_err()
        );
        let n: ProviderNotification =
            serde_json::from_str(r#"{"payment_id":"p","order_id":1,"amount":5000}"#).unwrap();
        assert_eq!(n.amount, Yen(5000));
    }

    #[test]
    fn a_public_draw_before_the_reveal_has_no_seed_or_results() {
        let json = r#"{"programme":"midori-2024","algorithm":"chiiki-lottery-v1","rule":"lottery",
            "sets_available":60000,"applications_hash":"h","commitment":"c",
            "committed_at":"2024-10-25T01:00:00Z","applications":[{"pseudonym":"a","sets":2}]}"#;
        let draw: PublicDraw = serde_json::from_str(json).unwrap();
        assert!(draw.seed.is_none() && draw.results.is_none() && draw.drawn_at.is_none());
        assert_eq!(draw.applications[0].sets, 2);
    }
}
