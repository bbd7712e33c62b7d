//! A programme (one issue of currency) as configuration: read from a TOML file, validated once,
//! then handed around as an immutable value. No programme's numbers live in code.

use chiiki_core::Yen;
use chiiki_core::protocol::{AllocationRule, DateWindow, ProgrammeInfo};
use chiiki_core::time::jst_day_start;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Deserialize;
use std::path::Path;

/// Midori's 2024 programme ships in the repository and is the default.
pub const DEFAULT_PROGRAMME_FILE: &str = "programmes/midori-2024.toml";
/// The same file, compiled in, so `chiiki demo` works from any directory.
pub const MIDORI_2024_TOML: &str = include_str!("../../programmes/midori-2024.toml");

#[derive(Debug, thiserror::Error)]
pub enum ProgrammeError {
    #[error("cannot read programme file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("programme file is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("programme is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Programme {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub set_price: Yen,
    pub set_value: Yen,
    pub sets_on_sale: i64,
    pub limit_per_resident: i64,
    pub max_payment: Yen,
    pub max_charge: Yen,
    pub application: Window,
    pub sale: Window,
    pub usage: Window,
    pub sale_rules: SaleRules,
    pub city: City,
    /// Store mode (the `[stores]` table).
    pub store_rules: crate::store_mode::StoreRules,
    /// Settlement with stores (the `[settlement]` table).
    pub settlement: crate::settlement::SettlementRules,
    /// Community points (the `[points]` table; defaults when the file has none).
    pub points: crate::points::PointsRules,
}

/// How the premium set sale runs (the `[sale]` table beside its window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleRules {
    /// How an oversubscribed lottery allocates sets.
    pub allocation: AllocationRule,
    /// Winners pay within this many JST days from the sale window's first day.
    pub winner_payment_days: u32,
    /// How long an additional-sale order holds its sets while the resident pays.
    pub additional_order_minutes: u32,
}

/// Inclusive JST days, with the UTC instants they span: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Window {
    pub fn start(&self) -> DateTime<Utc> {
        jst_day_start(self.first_day)
    }

    /// The first instant after the window: midnight JST after its last day.
    pub fn end(&self) -> DateTime<Utc> {
        jst_day_start(
            self.last_day
                .checked_add_days(Days::new(1))
                .unwrap_or(NaiveDate::MAX),
        )
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start() <= at && at < self.end()
    }

    fn shifted(self, days: i64) -> Window {
        let shift = |d: NaiveDate| {
            if days >= 0 {
                d.checked_add_days(Days::new(days.unsigned_abs()))
            } else {
                d.checked_sub_days(Days::new(days.unsigned_abs()))
            }
            .unwrap_or(d)
        };
        Window {
            first_day: shift(self.first_day),
            last_day: shift(self.last_day),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    pub name: String,
    pub prefecture: String,
    pub romanised: String,
    pub districts: Vec<District>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub name: String,
    pub kana: String,
    /// Postal codes or prefixes (`376-01`) that belong to the district.
    pub postal_codes: Vec<String>,
}

impl City {
    pub fn district(&self, name: &str) -> Option<&District> {
        self.districts.iter().find(|d| d.name == name)
    }
}

impl District {
    /// `postal_code` is normalised `NNN-NNNN`.
    pub fn has_postal_code(&self, postal_code: &str) -> bool {
        self.postal_codes
            .iter()
            .any(|p| postal_code.starts_with(p.as_str()))
    }
}

impl Programme {
    pub fn load(path: &Path) -> Result<Programme, ProgrammeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProgrammeError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Programme::parse(&text)
    }

    pub fn midori_2024() -> Result<Programme, ProgrammeError> {
        Programme::parse(MIDORI_2024_TOML)
    }

    pub fn parse(text: &str) -> Result<Programme, ProgrammeError> {
        let raw: RawProgramme = toml::from_str(text)?;
        raw.validate()
    }

    /// The same programme with every window moved by `days` (the demo moves Midori's 2024
    /// dates so that today falls inside the usage window).
    pub fn shifted_by_days(&self, days: i64) -> Programme {
        Programme {
            application: self.application.shifted(days),
            sale: self.sale.shifted(days),
            usage: self.usage.shifted(days),
            ..self.clone()
        }
    }

    /// When premium currency of this issue can no longer be spent.
    pub fn premium_expires_at(&self) -> DateTime<Utc> {
        self.usage.end()
    }

    /// The first instant at which winners can no longer pay: midnight JST after the last of
    /// their `winner_payment_days`. The additional sale opens at the same instant.
    pub fn winners_pay_by(&self) -> DateTime<Utc> {
        jst_day_start(
            self.sale
                .first_day
                .checked_add_days(Days::new(u64::from(self.sale_rules.winner_payment_days)))
                .unwrap_or(NaiveDate::MAX),
        )
    }

    pub fn info(&self) -> ProgrammeInfo {
        let window = |w: &Window| DateWindow {
            first_day: w.first_day,
            last_day: w.last_day,
        };
        ProgrammeInfo {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            city: self.city.name.clone(),
            set_price: self.set_price,
            set_value: self.set_value,
            sets_on_sale: self.sets_on_sale,
            limit_per_resident: self.limit_per_resident,
            application: window(&self.application),
            sale: window(&self.sale),
            usage: window(&self.usage),
            districts: self.city.districts.iter().map(|d| d.name.clone()).collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    id: String,
    name: String,
    display_name: String,
    set_price: i64,
    set_value: i64,
    sets_on_sale: i64,
    limit_per_resident: i64,
    max_payment: i64,
    max_charge: i64,
    application: RawWindow,
    sale: RawSale,
    usage: RawWindow,
    city: RawCity,
    stores: crate::store_mode::RawStoreRules,
    settlement: crate::settlement::rules::RawSettlementRules,
    #[serde(default)]
    points: Option<crate::points::RawPointsRules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSale {
    first_day: toml::value::Datetime,
    last_day: toml::value::Datetime,
    allocation: String,
    winner_payment_days: i64,
    additional_order_minutes: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    first_day: toml::value::Datetime,
    last_day: toml::value::Datetime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCity {
    name: String,
    prefecture: String,
    romanised: String,
    districts: Vec<RawDistrict>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
    name: String,
    kana: String,
    postal_codes: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> ProgrammeError {
    ProgrammeError::Invalid(msg.into())
}

fn toml_date(value: &toml::value::Datetime, what: &str) -> Result<NaiveDate, ProgrammeError> {
    let date = match (value.date, value.time) {
        (Some(date), None) => date,
        _ => {
            return Err(invalid(format!(
                "{what} must be a plain date like 2024-10-01"
            )));
        }
    };
    NaiveDate::from_ymd_opt(
        i32::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
    .ok_or_else(|| invalid(format!("{what} is not a calendar date")))
}

impl RawWindow {
    fn validate(&self, what: &str) -> Result<Window, ProgrammeError> {
        let first_day = toml_date(&self.first_day, &format!("{what}.first_day"))?;
        let last_day = toml_date(&self.last_day, &format!("{what}.last_day"))?;
        if last_day < first_day {
            return Err(invalid(format!("{what} ends before it starts")));
        }
        Ok(Window {
            first_day,
            last_day,
        })
    }
}

impl RawSale {
    fn validate(&self) -> Result<(Window, SaleRules), ProgrammeError> {
        let window = RawWindow {
            first_day: self.first_day,
            last_day: self.last_day,
        }
        .validate("sale")?;
        let allocation = AllocationRule::parse(&self.allocation)
            .ok_or_else(|| invalid("sale.allocation must be \"lottery\" or \"one-each-first\""))?;
        let sale_days = (window.last_day - window.first_day).num_days() + 1;
        let winner_payment_days = u32::try_from(self.winner_payment_days)
            .ok()
            .filter(|&d| d >= 1 && i64::from(d) <= sale_days)
            .ok_or_else(|| {
                invalid("sale.winner_payment_days must be 1 or more and fit in the sale window")
            })?;
        let additional_order_minutes = u32::try_from(self.additional_order_minutes)
            .ok()
            .filter(|&m| (1..=60 * 24 * 31).contains(&m))
            .ok_or_else(|| invalid("sale.additional_order_minutes must be 1 to 44640"))?;
        Ok((
            window,
            SaleRules {
                allocation,
                winner_payment_days,
                additional_order_minutes,
            },
        ))
    }
}

impl RawProgramme {
    fn validate(self) -> Result<Programme, ProgrammeError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 32
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            return Err(invalid("id must be 1-32 characters of a-z, 0-9 and -"));
        }
        if self.set_price <= 0 || self.set_value < self.set_price {
            return Err(invalid(
                "a set must cost more than zero and be worth at least its price",
            ));
        }
        if self.sets_on_sale <= 0 || self.limit_per_resident <= 0 {
            return Err(invalid(
                "sets on sale and the per-resident limit must be positive",
            ));
        }
        if self.max_payment <= 0 || self.max_charge <= 0 {
            return Err(invalid("max_payment and max_charge must be positive"));
        }
        let application = self.application.validate("application")?;
        let (sale, sale_rules) = self.sale.validate()?;
        let usage = self.usage.validate("usage")?;
        let store_rules = self.stores.validate().map_err(invalid)?;
        let settlement = self.settlement.validate().map_err(invalid)?;
        let points = match &self.points {
            Some(raw) => raw.validate().map_err(invalid)?,
            None => crate::points::PointsRules::default(),
        };
        if sale.first_day <= application.last_day {
            return Err(invalid("the sale must start after the application window"));
        }
        if self.city.districts.is_empty() {
            return Err(invalid("the city needs at least one district"));
        }
        let romanised_ok = !self.city.romanised.is_empty()
            && self.city.romanised.len() <= 15
            && self.city.romanised.is_ascii();
        if !romanised_ok {
            return Err(invalid(
                "city.romanised must be 1-15 ASCII characters (QR tag 60)",
            ));
        }
        let districts = self
            .city
            .districts
            .into_iter()
            .map(|d| {
                if d.postal_codes.is_empty() {
                    return Err(invalid(format!("district {} has no postal codes", d.name)));
                }
                Ok(District {
                    name: d.name,
                    kana: d.kana,
                    postal_codes: d.postal_codes,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Programme {
            id: self.id,
            name: self.name,
            display_name: self.display_name,
            set_price: Yen(self.set_price),
            set_value: Yen(self.set_value),
            sets_on_sale: self.sets_on_sale,
            limit_per_resident: self.limit_per_resident,
            max_payment: Yen(self.max_payment),
            max_charge: Yen(self.max_charge),
            application,
            sale,
            usage,
            sale_rules,
            city: City {
                name: self.city.name,
                prefecture: self.city.prefecture,
                romanised: self.city.romanised,
                districts,
            },
            store_rules,
            settlement,
            points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn midori_programme_ships_with_the_city_figures() {
        let p = Programme::midori_2024().unwrap();
        assert_eq!(p.id, "midori-2024");
        assert_eq!(p.set_price, Yen(5000));
        assert_eq!(p.set_value, Yen(6500));
        assert_eq!(p.sets_on_sale, 60_000);
        assert_eq!(p.limit_per_resident, 2);
        let names: Vec<_> = p.city.districts.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["笠懸町", "大間々町", "東町"]);
        assert_eq!(
            p.usage.last_day,
            NaiveDate::from_ymd_opt(2025, 2, 28).unwrap()
        );
    }

    #[test]
    fn the_shipped_file_on_disk_matches_the_compiled_in_copy() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(DEFAULT_PROGRAMME_FILE);
        assert_eq!(
            Programme::load(&path).unwrap(),
            Programme::midori_2024().unwrap()
        );
    }

    #[test]
    fn windows_are_jst_days_inclusive() {
        let p = Programme::midori_2024().unwrap();
        let last_second = Utc.with_ymd_and_hms(2024, 10, 21, 14, 59, 59).unwrap();
        let first_out = Utc.with_ymd_and_hms(2024, 10, 21, 15, 0, 0).unwrap();
        assert!(p.application.contains(last_second));
        assert!(!p.application.contains(first_out));
        assert_eq!(
            p.premium_expires_at().to_rfc3339(),
            "2025-02-28T15:00:00+00:00"
        );
    }

    #[test]
    fn inconsistent_programmes_are_refused() {
        let bad = MIDORI_2024_TOML.replace("set_value = 6500", "set_value = 4000");
        assert!(matches!(
            Programme::parse(&bad),
            Err(ProgrammeError::Invalid(_))
        ));
        let typo = MIDORI_2024_TOML.replace("sets_on_sale", "sets_for_sale");
        assert!(matches!(
            Programme::parse(&typo),
            Err(ProgrammeError::Parse(_))
        ));
        let timed = MIDORI_2024_TOML.replace("2024-10-01", "2024-10-01T09:00:00");
        assert!(Programme::parse(&timed).is_err());
    }

    #[test]
    fn the_sale_rules_come_from_the_sale_table() {
        let p = Programme::midori_2024().unwrap();
        assert_eq!(p.sale_rules.allocation, AllocationRule::Lottery);
        assert_eq!(p.sale_rules.winner_payment_days, 30);
        assert_eq!(p.sale_rules.additional_order_minutes, 60);
        // Winners pay until 2024-11-30 JST inclusive.
        assert_eq!(p.winners_pay_by().to_rfc3339(), "2024-11-30T15:00:00+00:00");
        let other = MIDORI_2024_TOML.replace(
            "allocation = \"lottery\"",
            "allocation = \"one-each-first\"",
        );
        assert_eq!(
            Programme::parse(&other).unwrap().sale_rules.allocation,
            AllocationRule::OneEachFirst
        );
        // The deadline moves with the windows.
        let shifted = p.shifted_by_days(10);
        assert_eq!(
            shifted.winners_pay_by(),
            p.winners_pay_by() + chrono::Duration::days(10)
        );
    }

    #[test]
    fn bad_sale_rules_are_refused() {
        for (from, to) in [
            ("allocation = \"lottery\"", "allocation = \"raffle\""),
            ("winner_payment_days = 30", "winner_payment_days = 0"),
            ("winner_payment_days = 30", "winner_payment_days = 62"),
            (
                "additional_order_minutes = 60",
                "additional_order_minutes = 0",
            ),
            (
                "first_day = 2024-11-01\nlast_day = 2024-12-31",
                "first_day = 2024-10-21\nlast_day = 2024-12-31",
            ),
        ] {
            let bad = MIDORI_2024_TOML.replacen(from, to, 1);
            assert_ne!(bad, MIDORI_2024_TOML, "{from}");
            assert!(
                matches!(Programme::parse(&bad), Err(ProgrammeError::Invalid(_))),
                "{to}"
            );
        }
        let missing = MIDORI_2024_TOML.replace("additional_order_minutes = 60\n", "");
        assert!(matches!(
            Programme::parse(&missing),
            Err(ProgrammeError::Parse(_))
        ));
    }

    #[test]
    fn districts_know_their_postal_codes() {
        let p = Programme::midori_2024().unwrap();
        let omama = p.city.district("大間々町").unwrap();
        assert!(omama.has_postal_code("376-0101"));
        assert!(!omama.has_postal_code("379-2301"));
    }
}
