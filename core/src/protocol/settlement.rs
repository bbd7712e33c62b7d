//! Settlement on the wire: closed cycles, what each store is paid, and payouts being marked
//! paid or returned by the bank.

use crate::Yen;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum PayoutStatus {
    /// In this cycle's transfer file, waiting for the bank.
    Scheduled,
    Paid,
    /// The bank could not pay it; carried into the next cycle.
    Returned,
    /// Nothing to pay (or no bank account yet): the amount is carried into the next cycle.
    Carried,
}

/// One store's part of a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SettlementLine {
    pub store_id: i64,
    pub store_name: String,
    pub payment_count: i64,
    /// Payments taken in the cycle.
    pub gross: Yen,
    pub refund_count: i64,
    /// Refunds made in the cycle (of payments of any cycle).
    pub refunds: Yen,
    /// `gross - refunds`.
    pub net: Yen,
    /// The net split by where the money came from: premium currency, charged money, points.
    pub premium: Yen,
    pub charged: Yen,
    pub points: Yen,
    /// Returned payouts and negative amounts of earlier cycles.
    pub carried_in: Yen,
    /// `net + carried_in`: what the store is owed now.
    pub amount_due: Yen,
    /// The fee the city bears on this store's net (stores receive the full amount due).
    pub fee: Yen,
    pub status: PayoutStatus,
    /// Why nothing is transferred this cycle, for a carried line.
    #[serde(default)]
    pub hold_reason: Option<String>,
    #[serde(default)]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub returned_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub return_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SettlementSummary {
    /// `2024-11` (monthly) or `2024-11-1` / `2024-11-2` (first and second half of a month).
    pub period: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub payout_date: NaiveDate,
    pub closed_at: DateTime<Utc>,
    /// Transfers in the Zengin file and their sum.
    pub transfer_count: i64,
    pub transfer_total: Yen,
    pub fee_total: Yen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Settlement {
    pub summary: SettlementSummary,
    pub lines: Vec<SettlementLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SettlementList {
    pub cycles: Vec<SettlementSummary>,
}

/// The bank returned a transfer (wrong account, closed account, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PayoutReturned {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PayoutReceipt {
    pub period: String,
    pub store_id: i64,
    pub amount: Yen,
    pub status: PayoutStatus,
    /// The ledger operation that moved the money.
    pub operation_id: i64,
}

/// A store's statement for one cycle, as the store sees it in store mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreStatement {
    pub summary: SettlementSummary,
    pub line: SettlementLine,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreStatementList {
    pub statements: Vec<StoreStatement>,
}
