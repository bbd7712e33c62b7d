//! Money. Every amount in Chiiki is a whole number of yen in [`Yen`]; there are no floats
//! anywhere near money, and arithmetic that could overflow is checked.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount of yen (or of points: 1 pt = ¥1). Serialised as a plain JSON integer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = i64, example = 6500))]
pub struct Yen(pub i64);

impl Yen {
    pub const ZERO: Yen = Yen(0);

    pub const fn new(amount: i64) -> Self {
        Yen(amount)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Yen) -> Option<Yen> {
        self.0.checked_add(other.0).map(Yen)
    }

    pub fn checked_sub(self, other: Yen) -> Option<Yen> {
        self.0.checked_sub(other.0).map(Yen)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Yen> {
        self.0.checked_mul(factor).map(Yen)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Japanese display with thousands separators: `¥6,500`, `-¥1,200`.
    pub fn display(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Yen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}¥{grouped}")
    }
}

impl std::iter::Sum for Yen {
    fn sum<I: Iterator<Item = Yen>>(iter: I) -> Yen {
        Yen(iter.map(|y| y.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_displays_with_thousands_separators() {
        assert_eq!(Yen(6500).to_string(), "¥6,500");
        assert_eq!(Yen(0).to_string(), "¥0");
        assert_eq!(Yen(390_000_000).to_string(), "¥390,000,000");
        assert_eq!(Yen(-1200).to_string(), "-¥1,200");
        assert_eq!(Yen(999).to_string(), "¥999");
    }

    #[test]
    fn yen_serialises_as_a_plain_integer() {
        assert_eq!(serde_json::to_string(&Yen(1200)).unwrap(), "1200");
        assert_eq!(serde_json::from_str::<Yen>("1800").unwrap(), Yen(1800));
    }
}
