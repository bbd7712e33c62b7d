//! k-anonymity in the types: a count of residents below [`THRESHOLD`] has no accessor that
//! yields the number, so no output (HTML, chart, Excel, CSV, JSON) can print it. Every output
//! path goes through [`ResidentCount::shown`], [`Guarded::shown`] or their `Display`.

use serde::{Serialize, Serializer};
use std::fmt;

/// Cells counting fewer residents than this are never shown exactly.
pub const THRESHOLD: i64 = 5;

/// What a suppressed resident count reads as, everywhere.
pub const BELOW_THRESHOLD: &str = "5未満";

/// What any other figure of a group of fewer than [`THRESHOLD`] residents reads as (the
/// group's amounts would otherwise tell one resident's spending).
pub const SUPPRESSED: &str = "秘匿";

/// A number of residents (or of their devices). Renders itself as 「5未満」 below the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResidentCount(i64);

impl ResidentCount {
    pub(crate) fn new(count: i64) -> ResidentCount {
        ResidentCount(count)
    }

    /// The exact count, only when it is at or above the threshold.
    pub fn shown(self) -> Option<i64> {
        (self.0 >= THRESHOLD).then_some(self.0)
    }

    /// `value`, kept only when this group is large enough to show.
    pub fn guard<T>(self, value: T) -> Guarded<T> {
        Guarded(self.shown().map(|_| value))
    }
}

impl fmt::Display for ResidentCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shown() {
            Some(n) => write!(f, "{}", group_digits(n)),
            None => f.write_str(BELOW_THRESHOLD),
        }
    }
}

/// JSON: a number, or the string 「5未満」.
impl Serialize for ResidentCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.shown() {
            Some(n) => s.serialize_i64(n),
            None => s.serialize_str(BELOW_THRESHOLD),
        }
    }
}

/// A figure of a group defined by residents' own attributes (age band, home district): gone
/// when the group has fewer than [`THRESHOLD`] residents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guarded<T>(Option<T>);

impl<T: Copy> Guarded<T> {
    pub fn shown(&self) -> Option<T> {
        self.0
    }
}

impl<T: fmt::Display> fmt::Display for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str(SUPPRESSED),
        }
    }
}

/// JSON: the value, or the string 「秘匿」.
impl<T: Serialize> Serialize for Guarded<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(v) => v.serialize(s),
            None => s.serialize_str(SUPPRESSED),
        }
    }
}

/// `12345` → `12,345`.
pub fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_below_five_never_show_their_number() {
        for n in 0..THRESHOLD {
            let c = ResidentCount::new(n);
            assert_eq!(c.shown(), None);
            assert_eq!(c.to_string(), "5未満");
            assert_eq!(serde_json::to_string(&c).unwrap(), "\"5未満\"");
            assert_eq!(c.guard(1234).to_string(), "秘匿");
        }
        let c = ResidentCount::new(12_345);
        assert_eq!(c.to_string(), "12,345");
        assert_eq!(serde_json::to_string(&c).unwrap(), "12345");
        assert_eq!(c.guard(7).shown(), Some(7));
    }
}
