//! Settlement periods: a calendar month (`2024-11`) or half of one (`2024-11-1` for the 1st to
//! the 15th, `2024-11-2` for the 16th to the month's end), in JST, with the UTC instants they
//! span. Parsed once; a period of the wrong kind for the programme is refused.

use super::rules::CycleKind;
use chiiki_core::time::jst_day_start;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: i32,
    month: u32,
    /// 0 for a whole month, 1 or 2 for its halves.
    half: u8,
}

impl Period {
    /// `2024-11` for monthly cycles, `2024-11-1` / `2024-11-2` for semi-monthly ones.
    pub fn parse(text: &str, kind: CycleKind) -> Option<Period> {
        let mut parts = text.trim().split('-');
        let year: i32 = parts.next()?.parse().ok()?;
        let month_text = parts.next()?;
        let month: u32 = month_text.parse().ok()?;
        let half = match (kind, parts.next()) {
            (CycleKind::Monthly, None) => 0,
            (CycleKind::SemiMonthly, Some("1")) => 1,
            (CycleKind::SemiMonthly, Some("2")) => 2,
            _ => return None,
        };
        if parts.next().is_some() || month_text.len() != 2 || !(2000..=2099).contains(&year) {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Period { year, month, half })
    }

    /// The period of `kind` that contains `date`.
    pub fn containing(date: NaiveDate, kind: CycleKind) -> Period {
        let half = match kind {
            CycleKind::Monthly => 0,
            CycleKind::SemiMonthly if date.day() <= 15 => 1,
            CycleKind::SemiMonthly => 2,
        };
        Period {
            year: date.year(),
            month: date.month(),
            half,
        }
    }

    fn month_start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    fn month_end(&self) -> NaiveDate {
        let next = if self.month == 12 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.month + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
    }

    pub fn first_day(&self) -> NaiveDate {
        match self.half {
            2 => self
                .month_start()
                .checked_add_days(Days::new(15))
                .unwrap_or(NaiveDate::MAX),
            _ => self.month_start(),
        }
    }

    pub fn last_day(&self) -> NaiveDate {
        match self.half {
            1 => self
                .month_start()
                .checked_add_days(Days::new(14))
                .unwrap_or(NaiveDate::MAX),
            _ => self.month_end(),
        }
    }

    /// The first instant of the period (midnight JST of its first day).
    pub fn starts_at(&self) -> DateTime<Utc> {
        jst_day_start(self.first_day())
    }

    /// The cutoff: midnight JST after the period's last day.
    pub fn ends_at(&self) -> DateTime<Utc> {
        jst_day_start(self.last_day().succ_opt().unwrap_or(NaiveDate::MAX))
    }

    pub fn previous(&self) -> Period {
        let kind = if self.half == 0 {
            CycleKind::Monthly
        } else {
            CycleKind::SemiMonthly
        };
        Period::containing(self.first_day().pred_opt().unwrap_or(NaiveDate::MIN), kind)
    }

    /// A number for the bank's customer code field: YYYYMM and the half (0 for a month).
    pub fn number(&self) -> u64 {
        let year = u64::try_from(self.year).unwrap_or(0);
        (year * 100 + u64::from(self.month)) * 10 + u64::from(self.half)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.half {
            0 => write!(f, "{:04}-{:02}", self.year, self.month),
            half => write!(f, "{:04}-{:02}-{half}", self.year, self.month),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn monthly_periods_span_jst_months() {
        let p = Period::parse("2024-11", CycleKind::Monthly).unwrap();
        assert_eq!(p.to_string(), "2024-11");
        assert_eq!(
            (p.first_day(), p.last_day()),
            (day(2024, 11, 1), day(2024, 11, 30))
        );
        assert_eq!(p.starts_at().to_rfc3339(), "2024-10-31T15:00:00+00:00");
        assert_eq!(p.ends_at().to_rfc3339(), "2024-11-30T15:00:00+00:00");
        assert_eq!(p.previous().to_string(), "2024-10");
        let jan = Period::parse("2025-01", CycleKind::Monthly).unwrap();
        assert_eq!(jan.previous().to_string(), "2024-12");
        assert_eq!(p.number(), 2_024_110);
        let feb = Period::parse("2024-02", CycleKind::Monthly).unwrap();
        assert_eq!(feb.last_day(), day(2024, 2, 29));
    }

    #[test]
    fn semi_monthly_periods_split_at_the_fifteenth() {
        let first = Period::parse("2024-11-1", CycleKind::SemiMonthly).unwrap();
        let second = Period::parse("2024-11-2", CycleKind::SemiMonthly).unwrap();
        assert_eq!(
            (first.first_day(), first.last_day()),
            (day(2024, 11, 1), day(2024, 11, 15))
        );
        assert_eq!(
            (second.first_day(), second.last_day()),
            (day(2024, 11, 16), day(2024, 11, 30))
        );
        assert_eq!(second.previous(), first);
        assert_eq!(first.previous().to_string(), "2024-10-2");
        assert_eq!(
            Period::containing(day(2024, 11, 16), CycleKind::SemiMonthly),
            second
        );
        assert_eq!(second.number(), 2_024_112);
    }

    #[test]
    fn periods_of_the_wrong_kind_or_shape_are_refused() {
        for (text, kind) in [
            ("2024-11-1", CycleKind::Monthly),
            ("2024-11", CycleKind::SemiMonthly),
            ("2024-11-3", CycleKind::SemiMonthly),
            ("2024-13", CycleKind::Monthly),
            ("2024-1", CycleKind::Monthly),
            ("24-11", CycleKind::Monthly),
            ("2024/11", CycleKind::Monthly),
            ("2024-11-01-1", CycleKind::SemiMonthly),
            ("", CycleKind::Monthly),
        ] {
            assert_eq!(Period::parse(text, kind), None, "{text}");
        }
    }
}
