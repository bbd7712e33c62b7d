//! Time for people: storage and the wire are UTC; what residents read is JST (UTC+9, no DST).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// Japan Standard Time, UTC+9 all year.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// The first instant (UTC) of a JST calendar day.
pub fn jst_day_start(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    jst()
        .from_local_datetime(&midnight)
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
}

/// The JST calendar date of an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

/// `2025年2月28日`
pub fn format_jst_date(at: DateTime<Utc>) -> String {
    format_date(jst_date(at))
}

/// `2025年2月28日`
pub fn format_date(date: NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

/// `2025年2月28日 14:05`
pub fn format_jst_datetime(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&jst());
    format!(
        "{}年{}月{}日 {:02}:{:02}",
        local.year(),
        local.month(),
        local.day(),
        local.hour(),
        local.minute()
    )
}

/// The Japanese era year as the city's documents write it: `令和7年` (2025), `令和元年` (2019).
pub fn format_era_year(date: NaiveDate) -> String {
    let reiwa_start = NaiveDate::from_ymd_opt(2019, 5, 1).expect("valid date");
    let heisei_start = NaiveDate::from_ymd_opt(1989, 1, 8).expect("valid date");
    let (era, first_year) = if date >= reiwa_start {
        ("令和", 2019)
    } else if date >= heisei_start {
        ("平成", 1989)
    } else {
        ("昭和", 1926)
    };
    match date.year() - first_year + 1 {
        1 => format!("{era}元年"),
        n => format!("{era}{n}年"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn jst_day_starts_at_fifteen_utc_the_day_before() {
        let start = jst_day_start(day(2024, 10, 22));
        assert_eq!(start.to_rfc3339(), "2024-10-21T15:00:00+00:00");
    }

    #[test]
    fn dates_are_formatted_for_japanese_readers() {
        let at = Utc.with_ymd_and_hms(2025, 2, 28, 14, 59, 59).unwrap();
        assert_eq!(format_jst_date(at), "2025年2月28日");
        assert_eq!(format_jst_datetime(at), "2025年2月28日 23:59");
        // 15:00 UTC is already the next day in Japan.
        let at = Utc.with_ymd_and_hms(2025, 2, 28, 15, 0, 0).unwrap();
        assert_eq!(format_jst_date(at), "2025年3月1日");
    }

    #[test]
    fn era_years_follow_the_city_documents() {
        assert_eq!(format_era_year(day(2025, 2, 28)), "令和7年");
        assert_eq!(format_era_year(day(2019, 5, 1)), "令和元年");
        assert_eq!(format_era_year(day(2019, 4, 30)), "平成31年");
        assert_eq!(format_era_year(day(1950, 1, 1)), "昭和25年");
    }
}
