//! Reports: the monthly report to the mayor's office and the final effect verification of a
//! programme, computed from the ledger's transfers (never from cached balances or operation
//! totals), with tables, SVG charts, Excel and CSV. It only reads; it never moves value.
//!
//! Residents are protected by k-anonymity in the types ([`anonymity`]): any count of fewer
//! than five residents is 「5未満」 in every output, and a group defined by residents' own
//! attributes (age band, home district) with fewer than five residents hides its amounts too.
//! Definitions of every figure: docs/reports.md.

mod anonymity;
mod charts;
mod export;
mod figures;
mod tables;

pub use anonymity::{BELOW_THRESHOLD, Guarded, ResidentCount, SUPPRESSED, THRESHOLD};
pub use charts::Chart;
pub use tables::{Cell, TABLE_IDS, Table};

use crate::db::Db;
use crate::programme::Programme;
use crate::vault::VaultError;
use chiiki_core::Yen;
use chiiki_core::time::{jst_date, jst_day_start};
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no such month: {0} (use YYYY-MM)")]
    InvalidMonth(String),
    #[error("no such table: {0}")]
    UnknownTable(String),
    #[error("a resident's birth date cannot be read: {0}")]
    Vault(#[from] VaultError),
    #[error("the spreadsheet could not be written: {0}")]
    Xlsx(String),
    #[error("the chart could not be drawn: {0}")]
    Chart(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type ReportResult<T> = Result<T, ReportError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    Monthly,
    Final,
}

/// The JST days a report covers, and the UTC instants `[start, end)` they span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub kind: ReportKind,
    /// `2024年11月` or `事業全期間`.
    pub label: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    #[serde(skip)]
    start: DateTime<Utc>,
    #[serde(skip)]
    end: DateTime<Utc>,
}

impl Period {
    /// A calendar month in JST.
    pub fn month(year: i32, month: u32) -> ReportResult<Period> {
        let bad = || ReportError::InvalidMonth(format!("{year}-{month:02}"));
        if !(2000..=2200).contains(&year) {
            return Err(bad());
        }
        let first_day = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let next = first_day
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(bad)?;
        let last_day = next.pred_opt().ok_or_else(bad)?;
        Ok(Period {
            kind: ReportKind::Monthly,
            label: format!("{year}年{month}月"),
            first_day,
            last_day,
            start: jst_day_start(first_day),
            end: jst_day_start(next),
        })
    }

    /// `2024-11` → the month.
    pub fn parse_month(text: &str) -> ReportResult<Period> {
        let bad = || ReportError::InvalidMonth(text.chars().take(20).collect());
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse::<i32>().map_err(|_| bad())?;
        let month = m.parse::<u32>().map_err(|_| bad())?;
        Period::month(year, month).map_err(|_| bad())
    }

    /// Everything up to now: from the first record to the end of the usage window, or to the
    /// end of today when later (expiry, late refunds and breakage happen after the window).
    fn whole(programme: &Programme, now: DateTime<Utc>) -> Period {
        let first_day = programme
            .application
            .first_day
            .min(programme.sale.first_day);
        let last_day = programme.usage.last_day.max(jst_date(now));
        Period {
            kind: ReportKind::Final,
            label: "事業全期間".into(),
            first_day,
            last_day,
            start: DateTime::<Utc>::UNIX_EPOCH,
            end: jst_day_start(last_day.checked_add_days(Days::new(1)).unwrap_or(last_day)),
        }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
}

/// Spent ÷ issued and the like: shown as a percentage, undefined when nothing was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ratio {
    pub numerator: Yen,
    pub denominator: Yen,
}

impl Ratio {
    pub fn fraction(self) -> Option<f64> {
        // Display only: the amounts themselves stay integer yen.
        (self.denominator.get() > 0)
            .then(|| self.numerator.get() as f64 / self.denominator.get() as f64)
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fraction() {
            Some(x) => write!(f, "{:.1}%", x * 100.0),
            None => f.write_str("—"),
        }
    }
}

/// Payments and refunds of a group: refunds are counted when (and where) they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Spending {
    /// Payments made.
    pub payments: i64,
    /// What they drew from residents' purses.
    pub amount: Yen,
    /// Refunds made.
    pub refunds: i64,
    pub refunded: Yen,
    /// `amount − refunded`.
    pub net: Yen,
}

impl Spending {
    fn add_payment(&mut self, count: i64, amount: i64) {
        self.payments += count;
        self.amount = Yen(self.amount.get() + amount);
        self.net = Yen(self.net.get() + amount);
    }

    fn add_refund(&mut self, count: i64, amount: i64) {
        self.refunds += count;
        self.refunded = Yen(self.refunded.get() + amount);
        self.net = Yen(self.net.get() - amount);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRow {
    pub date: NaiveDate,
    pub spending: Spending,
    /// Residents who paid that day.
    pub residents: ResidentCount,
}

/// A group of stores (industry, district, size class).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreGroupRow {
    pub label: String,
    pub spending: Spending,
    /// Residents who paid at these stores.
    pub residents: ResidentCount,
}

/// A group of residents (age band, home district): its spending is hidden below five.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResidentGroupRow {
    pub label: String,
    /// Residents of the group who paid.
    pub residents: ResidentCount,
    pub spending: Guarded<Spending>,
}

/// Participation in community-point events: one per claim (a resident at an event, on a day
/// for daily events), and the points those claims awarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Participation {
    pub participations: i64,
    pub points: Yen,
}

/// A group of participants (an event, an age band, a home district): its figures are hidden
/// below five residents, as for [`ResidentGroupRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipationRow {
    pub label: String,
    /// Distinct residents who took part.
    pub residents: ResidentCount,
    pub participation: Guarded<Participation>,
}

/// Value credited into residents' purses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Issued {
    /// Premium currency of this programme (price and premium of the sets sold).
    pub premium: Yen,
    /// Money residents charged.
    pub charged: Yen,
    /// Community points awarded.
    pub points: Yen,
    pub total: Yen,
}

/// What residents' purses held at the end of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Balances {
    pub premium: Yen,
    pub charged: Yen,
    pub points: Yen,
    pub total: Yen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PointsFigures {
    pub issued: Yen,
    /// Net of refunds into points purses.
    pub spent: Yen,
    pub lapsed: Yen,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub residents_new: ResidentCount,
    pub residents_total: ResidentCount,
    pub installs_new: ResidentCount,
    pub installs_total: ResidentCount,
    /// Residents who made a payment in the period.
    pub active_residents: ResidentCount,
    /// Stores approved (and not suspended) that applied before the period's end.
    pub stores_approved: i64,
    /// Stores that took a payment in the period.
    pub stores_active: i64,
    pub spending: Spending,
    pub sets_sold: i64,
    pub sets_sold_total: i64,
    pub issued: Issued,
    pub issued_total: Issued,
    /// Net payments from the start to the period's end.
    pub spent_total: Yen,
    /// `spent_total ÷ issued_total.total`.
    pub redemption: Ratio,
    /// Premium currency spent (net, to the period's end) ÷ premium currency issued.
    pub premium_redemption: Ratio,
    /// Net spent at small stores ÷ net spent, in the period.
    pub small_store_share: Ratio,
    /// Residents' purses at the period's end.
    pub unspent: Balances,
    /// Premium currency lapsed at expiry in the period, and up to its end.
    pub breakage: Yen,
    pub breakage_total: Yen,
    pub points: PointsFigures,
    pub points_total: PointsFigures,
}

/// A report: the monthly one or the final one, with the same dimensions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub programme_id: String,
    pub programme_name: String,
    pub period: Period,
    pub summary: Summary,
    pub by_day: Vec<DayRow>,
    pub by_industry: Vec<StoreGroupRow>,
    pub by_store_district: Vec<StoreGroupRow>,
    pub by_size_class: Vec<StoreGroupRow>,
    pub by_age_band: Vec<ResidentGroupRow>,
    pub by_resident_district: Vec<ResidentGroupRow>,
    /// Community-point events with claims in the period, in the order they were created.
    pub points_by_event: Vec<ParticipationRow>,
    pub points_by_age_band: Vec<ParticipationRow>,
    pub points_by_district: Vec<ParticipationRow>,
}

pub type MonthlyReport = Report;
pub type FinalReport = Report;

/// The monthly report for a JST calendar month.
pub async fn monthly(
    db: &Db,
    programme: &Programme,
    year: i32,
    month: u32,
) -> ReportResult<MonthlyReport> {
    let period = Period::month(year, month)?;
    figures::compute(db, programme, period).await
}

/// The report of a period (a month from [`Period::parse_month`]).
pub async fn of_period(db: &Db, programme: &Programme, period: Period) -> ReportResult<Report> {
    figures::compute(db, programme, period).await
}

/// The final report: the whole programme up to `now`, with breakage.
pub async fn final_report(
    db: &Db,
    programme: &Programme,
    now: DateTime<Utc>,
) -> ReportResult<FinalReport> {
    figures::compute(db, programme, Period::whole(programme, now)).await
}

/// Age bands of the final verification, by age on the period's last day.
pub const AGE_BANDS: [&str; 8] = [
    "10代以下",
    "20代",
    "30代",
    "40代",
    "50代",
    "60代",
    "70代",
    "80代以上",
];

/// Index into [`AGE_BANDS`] of someone born on `birth` on `on`.
pub fn age_band(birth: NaiveDate, on: NaiveDate) -> usize {
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    usize::try_from(age / 10).unwrap_or(0).clamp(1, 8) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_month_is_its_jst_days() {
        let p = Period::parse_month("2024-11").unwrap();
        assert_eq!(p.last_day, d(2024, 11, 30));
        // Midnight JST is 15:00 UTC the day before.
        assert_eq!(p.start().to_rfc3339(), "2024-10-31T15:00:00+00:00");
        assert_eq!(p.end().to_rfc3339(), "2024-11-30T15:00:00+00:00");
        assert_eq!(
            Period::parse_month("2025-02").unwrap().last_day,
            d(2025, 2, 28)
        );
        for bad in [
            "2024-13", "2024-1", "24-11", "2024/11", "", "2024-00", "abcd-ef", "9999-01",
        ] {
            assert!(Period::parse_month(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn age_bands_turn_on_birthdays() {
        let on = d(2024, 11, 30);
        assert_eq!(AGE_BANDS[age_band(d(2010, 1, 1), on)], "10代以下");
        assert_eq!(AGE_BANDS[age_band(d(2004, 11, 30), on)], "20代");
        assert_eq!(AGE_BANDS[age_band(d(2004, 12, 1), on)], "10代以下");
        assert_eq!(AGE_BANDS[age_band(d(1950, 4, 1), on)], "70代");
        assert_eq!(AGE_BANDS[age_band(d(1930, 4, 1), on)], "80代以上");
        assert_eq!(AGE_BANDS[age_band(d(1900, 1, 1), on)], "80代以上");
    }

    #[test]
    fn ratios_show_one_decimal_and_nothing_when_undefined() {
        let r = Ratio {
            numerator: Yen(2),
            denominator: Yen(3),
        };
        assert_eq!(r.to_string(), "66.7%");
        let none = Ratio {
            numerator: Yen(0),
            denominator: Yen(0),
        };
        assert_eq!(none.to_string(), "—");
    }
}
