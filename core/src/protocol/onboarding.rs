//! Store onboarding on the wire: a store's application (with the bank account its payouts go
//! to), the city staff's review of it, and what staff see of a store.

use super::{Industry, StoreDetail, StoreStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// Large or small store: some issues of currency may be spent at small stores only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum SizeClass {
    /// 大型店
    Large,
    /// 中小店舗
    Small,
}

impl SizeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SizeClass::Large => "large",
            SizeClass::Small => "small",
        }
    }

    pub fn parse(s: &str) -> Option<SizeClass> {
        match s {
            "large" => Some(SizeClass::Large),
            "small" => Some(SizeClass::Small),
            _ => None,
        }
    }

    pub fn japanese_name(self) -> &'static str {
        match self {
            SizeClass::Large => "大型店",
            SizeClass::Small => "中小店舗",
        }
    }
}

/// 預金種目: the kind of deposit account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum AccountType {
    /// 普通
    Ordinary,
    /// 当座
    Current,
    /// 貯蓄
    Savings,
}

/// The bank account a store is paid into, as the store typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BankAccountInput {
    /// 金融機関コード, four digits.
    pub bank_code: String,
    /// 支店コード, three digits.
    pub branch_code: String,
    pub account_type: AccountType,
    /// 口座番号, up to seven digits.
    pub account_number: String,
    /// 口座名義 in kana as in the passbook; converted to Zengin half-width kana (株式会社 → ｶ)).
    pub holder_name: String,
}

/// A store applies to join the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreApplication {
    /// 店舗名 as customers know it.
    pub name: String,
    /// 店舗名フリガナ, full-width katakana (hiragana accepted).
    pub kana: String,
    /// Latin-letter name for the QR code (at most 25 characters).
    pub romanised_name: String,
    pub industry: Industry,
    pub size_class: SizeClass,
    /// One of the programme's districts.
    pub district: String,
    pub postal_code: String,
    /// The address inside the city.
    pub address: String,
    /// 代表者名
    pub representative: String,
    /// 担当者名
    pub contact_name: String,
    pub phone: String,
    #[serde(default)]
    pub email: Option<String>,
    pub bank_account: BankAccountInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreApplicationReceived {
    /// The application number (the store's id once approved).
    pub store_id: i64,
    pub status: StoreStatus,
    pub bank_account: BankAccountView,
}

/// A bank account as staff and the store see it back, names from the bank code data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BankAccountView {
    pub bank_code: String,
    pub bank_name: String,
    pub branch_code: String,
    pub branch_name: String,
    pub account_type: AccountType,
    pub account_number: String,
    /// In Zengin half-width kana, as the transfer file carries it.
    pub holder_name: String,
}

/// Why staff reject an application or suspend a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreDecision {
    pub reason: String,
}

/// Everything staff see of a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreRecord {
    pub store: StoreDetail,
    #[serde(default)]
    pub size_class: Option<SizeClass>,
    #[serde(default)]
    pub representative: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub bank_account: Option<BankAccountView>,
    /// Why the store was rejected or suspended.
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub applied_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoreList {
    pub stores: Vec<StoreRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct StoreListQuery {
    #[serde(default)]
    pub status: Option<StoreStatus>,
}

/// Paper size of a printed poster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum PosterSize {
    #[default]
    A4,
    A5,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
pub struct PosterQuery {
    #[serde(default)]
    pub size: Option<PosterSize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poster_sizes_are_written_as_on_paper() {
        let q: PosterQuery = serde_json::from_str(r#"{"size":"A5"}"#).unwrap();
        assert_eq!(q.size, Some(PosterSize::A5));
        assert_eq!(serde_json::to_value(SizeClass::Small).unwrap(), "small");
        assert_eq!(
            serde_json::to_value(AccountType::Ordinary).unwrap(),
            "ordinary"
        );
    }
}
