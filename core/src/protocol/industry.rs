//! The fixed list of industries (業種) a store can belong to, each with the merchant category
//! code (ISO 18245) that its QR code carries in tag 52.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum Industry {
    Supermarket,
    Convenience,
    Restaurant,
    Cafe,
    Bakery,
    Drugstore,
    Clothing,
    Electronics,
    HomeCenter,
    Books,
    Liquor,
    Florist,
    BeautySalon,
    Fuel,
    AutoRepair,
    Hotel,
    Taxi,
    Other,
}

impl Industry {
    pub const ALL: [Industry; 18] = [
        Industry::Supermarket,
        Industry::Convenience,
        Industry::Restaurant,
        Industry::Cafe,
        Industry::Bakery,
        Industry::Drugstore,
        Industry::Clothing,
        Industry::Electronics,
        Industry::HomeCenter,
        Industry::Books,
        Industry::Liquor,
        Industry::Florist,
        Industry::BeautySalon,
        Industry::Fuel,
        Industry::AutoRepair,
        Industry::Hotel,
        Industry::Taxi,
        Industry::Other,
    ];

    /// The name residents and staff read.
    pub fn japanese_name(self) -> &'static str {
        match self {
            Industry::Supermarket => "スーパー・食料品",
            Industry::Convenience => "コンビニエンスストア",
            Industry::Restaurant => "飲食店",
            Industry::Cafe => "喫茶・カフェ",
            Industry::Bakery => "パン・菓子",
            Industry::Drugstore => "ドラッグストア・薬局",
            Industry::Clothing => "衣料品",
            Industry::Electronics => "家電",
            Industry::HomeCenter => "ホームセンター・日用品",
            Industry::Books => "書籍・文具",
            Industry::Liquor => "酒類",
            Industry::Florist => "生花",
            Industry::BeautySalon => "理容・美容",
            Industry::Fuel => "ガソリンスタンド",
            Industry::AutoRepair => "自動車整備",
            Industry::Hotel => "宿泊",
            Industry::Taxi => "タクシー",
            Industry::Other => "その他",
        }
    }

    /// Merchant category code (four digits) for EMV tag 52.
    pub fn mcc(self) -> &'static str {
        match self {
            Industry::Supermarket => "5411",
            Industry::Convenience => "5499",
            Industry::Restaurant => "5812",
            Industry::Cafe => "5814",
            Industry::Bakery => "5462",
            Industry::Drugstore => "5912",
            Industry::Clothing => "5651",
            Industry::Electronics => "5732",
            Industry::HomeCenter => "5251",
            Industry::Books => "5942",
            Industry::Liquor => "5921",
            Industry::Florist => "5992",
            Industry::BeautySalon => "7230",
            Industry::Fuel => "5541",
            Industry::AutoRepair => "7538",
            Industry::Hotel => "7011",
            Industry::Taxi => "4121",
            Industry::Other => "5999",
        }
    }

    /// The wire name, e.g. `home_center`.
    pub fn code(self) -> &'static str {
        match self {
            Industry::Supermarket => "supermarket",
            Industry::Convenience => "convenience",
            Industry::Restaurant => "restaurant",
            Industry::Cafe => "cafe",
            Industry::Bakery => "bakery",
            Industry::Drugstore => "drugstore",
            Industry::Clothing => "clothing",
            Industry::Electronics => "electronics",
            Industry::HomeCenter => "home_center",
            Industry::Books => "books",
            Industry::Liquor => "liquor",
            Industry::Florist => "florist",
            Industry::BeautySalon => "beauty_salon",
            Industry::Fuel => "fuel",
            Industry::AutoRepair => "auto_repair",
            Industry::Hotel => "hotel",
            Industry::Taxi => "taxi",
            Industry::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<Industry> {
        Industry::ALL.into_iter().find(|i| i.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_industry_round_trips_through_its_wire_code() {
        for industry in Industry::ALL {
            let json = serde_json::to_value(industry).unwrap();
            assert_eq!(json, industry.code());
            assert_eq!(Industry::from_code(industry.code()), Some(industry));
            assert_eq!(industry.mcc().len(), 4);
        }
    }
}
