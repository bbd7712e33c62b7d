//! Time for people: storage and the wire are UTC; what residents read is JST (UTC+9, no DST).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

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

/// A JST wall-clock time as an HTML `datetime-local` field holds it: `2025-02-28T23:59`.
pub fn format_jst_datetime_local(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Reads a JST wall-clock time typed into a `datetime-local` field (`2025-02-28T23:59`,
/// seconds optional; a space instead of the `T` is accepted too). `None` when it is not one.
pub fn parse_jst_datetime_local(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let local = [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?;
    jst()
        .from_local_datetime(&local)
        .single()
        .map(|at| at.with_timezone(&Utc))
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
    fn form_times_are_jst_wall_clock_times() {
        let at = parse_jst_datetime_local("2024-12-01T09:30").unwrap();
        assert_eq!(at.to_rfc3339(), "2024-12-01T00:30:00+00:00");
        assert_eq!(format_jst_datetime_local(at), "2024-12-01T09:30");
        assert_eq!(
            parse_jst_datetime_local(" 2024-12-01 09:30:15 ")
                .unwrap()
                .second(),
            15
        );
        // Just after midnight in Japan is still the day before in UTC.
        let at = parse_jst_datetime_local("2025-03-01T00:10").unwrap();
        assert_eq!(at.to_rfc3339(), "2025-02-28T15:10:00+00:00");
        for bad in [
            "",
            "2024-12-01",
            "2024-13-01T09:00",
            "2024-12-01T25:00",
            "明日の朝",
        ] {
            assert_eq!(parse_jst_datetime_local(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn era_years_follow_the_city_documents() {
        assert_eq!(format_era_year(day(2025, 2, 28)), "令和7年");
        assert_eq!(format_era_year(day(2019, 5, 1)), "令和元年");
        assert_eq!(format_era_year(day(2019, 4, 30)), "平成31年");
        assert_eq!(format_era_year(day(1950, 1, 1)), "昭和25年");
    }
}
