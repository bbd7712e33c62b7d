//! Bank business days in Japan: not a Saturday or Sunday, not a national holiday (国民の祝日,
//! with substitute holidays 振替休日 and citizens' holidays 国民の休日), and not one of the
//! banks' New Year days (12/31, 1/2, 1/3). Payout dates move to the next such day.
//!
//! The rules are those of the Act on National Holidays as amended up to 2018 (天皇誕生日 on
//! 2/23 from 2020, スポーツの日), with the one-off days of 2019–2021 written out. The equinox
//! days use the usual formula (valid 1980–2099), which matches the Cabinet Office's
//! announcements; a new law or a new one-off day needs a change here (no maintained crate
//! builds on this project's Rust, see docs/stores.md). Pure and table-tested.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Years whose holidays these rules describe.
pub const SUPPORTED_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("bank holidays are known for {first}–{last} only, not {year}", first = SUPPORTED_YEARS.start(), last = SUPPORTED_YEARS.end())]
pub struct OutOfRange {
    pub year: i32,
}

/// The name of the national holiday on `date`, substitute and citizens' holidays included.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    if let Some(name) = named_holiday(date) {
        return Some(name);
    }
    // 振替休日: the first day after a Sunday holiday that is not itself a holiday.
    let mut back = date;
    while let Some(previous) = back.pred_opt() {
        if named_holiday(previous).is_none() {
            break;
        }
        if previous.weekday() == Weekday::Sun {
            return Some("振替休日");
        }
        back = previous;
    }
    // 国民の休日: a day between two holidays.
    let before = date.pred_opt().and_then(named_holiday);
    let after = date.succ_opt().and_then(named_holiday);
    if before.is_some() && after.is_some() {
        return Some("国民の休日");
    }
    None
}

/// Whether banks are closed on `date`.
pub fn is_bank_holiday(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
        || matches!((date.month(), date.day()), (12, 31) | (1, 1..=3))
        || holiday_name(date).is_some()
}

/// `date` if banks are open that day, else the next day they are.
pub fn on_or_after_business_day(date: NaiveDate) -> Result<NaiveDate, OutOfRange> {
    let mut day = date;
    loop {
        if !SUPPORTED_YEARS.contains(&day.year()) {
            return Err(OutOfRange { year: day.year() });
        }
        if !is_bank_holiday(day) {
            return Ok(day);
        }
        day = day
            .checked_add_days(Days::new(1))
            .ok_or(OutOfRange { year: day.year() })?;
    }
}

/// The `n`-th `weekday` of a month (1-based).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// 春分日 and 秋分日 by the standard formula, in integer arithmetic (millionths of a day).
fn equinox_day(year: i32, base_millionths: i64) -> u32 {
    let y = i64::from(year - 1980);
    let day = (base_millionths + 242_194 * y) / 1_000_000 - y.div_euclid(4);
    u32::try_from(day).unwrap_or(0)
}

fn vernal_equinox(year: i32) -> u32 {
    equinox_day(year, 20_843_100)
}

fn autumnal_equinox(year: i32) -> u32 {
    equinox_day(year, 23_248_800)
}

/// The holidays the law names (祝日), without substitutes.
fn named_holiday(date: NaiveDate) -> Option<&'static str> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    if !SUPPORTED_YEARS.contains(&y) {
        return None;
    }
    let is = |other: Option<NaiveDate>| other == Some(date);
    let name = match (m, d) {
        (1, 1) => "元日",
        (1, _) if is(nth_weekday(y, 1, Weekday::Mon, 2)) => "成人の日",
        (2, 11) => "建国記念の日",
        (2, 23) if y >= 2020 => "天皇誕生日",
        (12, 23) if (1989..=2018).contains(&y) => "天皇誕生日",
        (3, _) if d == vernal_equinox(y) => "春分の日",
        (4, 29) if y >= 2007 => "昭和の日",
        (4, 29) => "みどりの日",
        (5, 3) => "憲法記念日",
        (5, 4) if y >= 2007 => "みどりの日",
        (5, 5) => "こどもの日",
        (5, 1) if y == 2019 => "天皇の即位の日",
        (10, 22) if y == 2019 => "即位礼正殿の儀の行われる日",
        (7, 23) if y == 2020 => "海の日",
        (7, 22) if y == 2021 => "海の日",
        (7, _) if y >= 2003 && y != 2020 && y != 2021 && is(nth_weekday(y, 7, Weekday::Mon, 3)) => {
            "海の日"
        }
        (7, 20) if y < 2003 => "海の日",
        (7, 24) if y == 2020 => "スポーツの日",
        (7, 23) if y == 2021 => "スポーツの日",
        (8, 10) if y == 2020 => "山の日",
        (8, 8) if y == 2021 => "山の日",
        (8, 11) if y >= 2016 && y != 2020 && y != 2021 => "山の日",
        (9, _) if y >= 2003 && is(nth_weekday(y, 9, Weekday::Mon, 3)) => "敬老の日",
        (9, 15) if y < 2003 => "敬老の日",
        (9, _) if d == autumnal_equinox(y) => "秋分の日",
        (10, _) if y != 2020 && y != 2021 && is(nth_weekday(y, 10, Weekday::Mon, 2)) => {
            if y >= 2020 {
                "スポーツの日"
            } else {
                "体育の日"
            }
        }
        (11, 3) => "文化の日",
        (11, 23) => "勤労感謝の日",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn holidays_of(year: i32) -> Vec<String> {
        let mut out = Vec::new();
        let mut d = day(year, 1, 1);
        while d.year() == year {
            if let Some(name) = holiday_name(d) {
                out.push(format!("{:02}-{:02} {name}", d.month(), d.day()));
            }
            d = d.succ_opt().unwrap();
        }
        out
    }

    #[test]
    fn the_years_of_the_midori_programme_match_the_cabinet_office_calendar() {
        assert_eq!(
            holidays_of(2024),
            [
                "01-01 元日",
                "01-08 成人の日",
                "02-11 建国記念の日",
                "02-12 振替休日",
                "02-23 天皇誕生日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-15 海の日",
                "08-11 山の日",
                "08-12 振替休日",
                "09-16 敬老の日",
                "09-22 秋分の日",
                "09-23 振替休日",
                "10-14 スポーツの日",
                "11-03 文化の日",
                "11-04 振替休日",
                "11-23 勤労感謝の日",
            ]
        );
        assert_eq!(
            holidays_of(2025),
            [
                "01-01 元日",
                "01-13 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "02-24 振替休日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-21 海の日",
                "08-11 山の日",
                "09-15 敬老の日",
                "09-23 秋分の日",
                "10-13 スポーツの日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
                "11-24 振替休日",
            ]
        );
        assert_eq!(
            holidays_of(2026),
            [
                "01-01 元日",
                "01-12 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "03-20 春分の日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "05-06 振替休日",
                "07-20 海の日",
                "08-11 山の日",
                "09-21 敬老の日",
                "09-22 国民の休日",
                "09-23 秋分の日",
                "10-12 スポーツの日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
            ]
        );
        assert_eq!(
            holidays_of(2027),
            [
                "01-01 元日",
                "01-11 成人の日",
                "02-11 建国記念の日",
                "02-23 天皇誕生日",
                "03-21 春分の日",
                "03-22 振替休日",
                "04-29 昭和の日",
                "05-03 憲法記念日",
                "05-04 みどりの日",
                "05-05 こどもの日",
                "07-19 海の日",
                "08-11 山の日",
                "09-20 敬老の日",
                "09-23 秋分の日",
                "10-11 スポーツの日",
                "11-03 文化の日",
                "11-23 勤労感謝の日",
            ]
        );
    }

    #[test]
    fn one_off_days_and_moved_holidays_are_known() {
        let h = holidays_of(2019);
        for expected in [
            "04-30 国民の休日",
            "05-01 天皇の即位の日",
            "05-02 国民の休日",
            "05-06 振替休日",
            "10-22 即位礼正殿の儀の行われる日",
        ] {
            assert!(h.contains(&expected.to_string()), "{expected} in {h:?}");
        }
        assert!(!h.iter().any(|x| x.contains("天皇誕生日")), "none in 2019");
        let h = holidays_of(2020);
        for expected in ["07-23 海の日", "07-24 スポーツの日", "08-10 山の日"] {
            assert!(h.contains(&expected.to_string()), "{expected} in {h:?}");
        }
        assert!(!h.iter().any(|x| x.starts_with("10-")), "{h:?}");
        // 2008: こどもの日 after a Sunday みどりの日 pushes the substitute to Tuesday.
        assert_eq!(holiday_name(day(2008, 5, 6)), Some("振替休日"));
    }

    #[test]
    fn payouts_move_to_the_next_bank_business_day() {
        let cases = [
            // A Wednesday stays.
            ((2024, 12, 11), (2024, 12, 11)),
            // Saturday → Monday.
            ((2024, 12, 14), (2024, 12, 16)),
            // New Year: 12/31 to 1/3 are closed, 1/4/2025 is a Saturday.
            ((2024, 12, 31), (2025, 1, 6)),
            // Sunday 2/23 天皇誕生日, Monday 2/24 振替休日 → Tuesday.
            ((2025, 2, 23), (2025, 2, 25)),
            // Silver week 2026: 9/19 Saturday to 9/23 Wednesday.
            ((2026, 9, 19), (2026, 9, 24)),
            // Golden week 2025: 5/3 Saturday to 5/6 substitute holiday.
            ((2025, 5, 3), (2025, 5, 7)),
        ];
        for ((y, m, d), (ey, em, ed)) in cases {
            assert_eq!(
                on_or_after_business_day(day(y, m, d)),
                Ok(day(ey, em, ed)),
                "{y}-{m}-{d}"
            );
        }
        assert_eq!(
            on_or_after_business_day(day(2100, 1, 5)),
            Err(OutOfRange { year: 2100 })
        );
    }
}
