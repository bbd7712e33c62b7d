//! A programme's settlement rules (its `[settlement]` table): how long a cycle is, when stores
//! are paid, the fee the city bears, and the fund account the payouts leave from.

use crate::zengin::transfer::Remitter;
use crate::zengin::{BankAccount, DepositKind};
use serde::Deserialize;

/// How a programme's months are cut into settlement cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleKind {
    /// One cycle per calendar month: period `2024-11`.
    Monthly,
    /// The 1st–15th and the 16th–last day: periods `2024-11-1` and `2024-11-2`.
    SemiMonthly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRules {
    pub cycle: CycleKind,
    /// Days from a cycle's last day to the payout, before moving to a bank business day.
    pub payout_after_days: u32,
    /// The fee the city bears on a store's net, in hundredths of a percent.
    pub fee_basis_points: i64,
    /// The fund account (資金管理口座) as the bank knows it.
    pub remitter: Remitter,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettlementRules {
    cycle: String,
    payout_after_days: i64,
    fee_basis_points: i64,
    fund_account: RawFundAccount,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFundAccount {
    client_code: String,
    client_name: String,
    bank_code: String,
    branch_code: String,
    account_type: String,
    account_number: String,
}

impl RawSettlementRules {
    pub fn validate(&self) -> Result<SettlementRules, String> {
        let cycle = match self.cycle.as_str() {
            "monthly" => CycleKind::Monthly,
            "semi-monthly" => CycleKind::SemiMonthly,
            _ => return Err("settlement.cycle must be \"monthly\" or \"semi-monthly\"".into()),
        };
        let payout_after_days = u32::try_from(self.payout_after_days)
            .ok()
            .filter(|d| *d <= 90)
            .ok_or("settlement.payout_after_days must be 0 to 90")?;
        if !(0..=10_000).contains(&self.fee_basis_points) {
            return Err("settlement.fee_basis_points must be 0 to 10000".into());
        }
        let fund = &self.fund_account;
        let kind = DepositKind::parse(&fund.account_type)
            .ok_or("settlement.fund_account.account_type must be ordinary, current or savings")?;
        let account = BankAccount::parse(
            &fund.bank_code,
            &fund.branch_code,
            kind,
            &fund.account_number,
            &fund.client_name,
        )
        .map_err(|e| format!("settlement.fund_account: {e}"))?;
        let remitter = Remitter::new(&fund.client_code, &fund.client_name, account)
            .map_err(|e| format!("settlement.fund_account: {e}"))?;
        Ok(SettlementRules {
            cycle,
            payout_after_days,
            fee_basis_points: self.fee_basis_points,
            remitter,
        })
    }
}
