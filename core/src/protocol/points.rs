//! Community points on the wire: staff define events, a venue shows the event's city-signed
//! code, a resident scans it and the points land in a purse of their own (1 pt = ¥1 at stores
//! when the resident opts in at payment). Points are counted in [`Yen`] because that is what
//! they are worth; screens write them as 「ポイント」.

use crate::Yen;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// How often one resident may take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum PointsFrequency {
    /// Once per resident for the whole event.
    Once,
    /// Once per resident per JST day (a walking programme, a daily clean-up).
    Daily,
}

impl PointsFrequency {
    pub fn as_str(self) -> &'static str {
        match self {
            PointsFrequency::Once => "once",
            PointsFrequency::Daily => "daily",
        }
    }

    pub fn parse(text: &str) -> Option<PointsFrequency> {
        match text {
            "once" => Some(PointsFrequency::Once),
            "daily" => Some(PointsFrequency::Daily),
            _ => None,
        }
    }
}

/// What staff send to create or change an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsEventSpec {
    /// e.g. 「桐生川河川敷クリーン作戦」
    pub name: String,
    /// Where it takes place, as residents know it.
    pub place: String,
    #[serde(default)]
    pub description: String,
    /// Points per participation.
    pub points: Yen,
    pub starts_at: DateTime<Utc>,
    /// The first instant after the event.
    pub ends_at: DateTime<Utc>,
    /// Participants at most (per day for daily events); none for no limit.
    #[serde(default)]
    pub capacity: Option<i64>,
    pub frequency: PointsFrequency,
}

/// An event as staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsEvent {
    pub id: i64,
    pub name: String,
    pub place: String,
    pub description: String,
    pub points: Yen,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub capacity: Option<i64>,
    pub frequency: PointsFrequency,
    /// Participations so far (all days).
    pub participants: i64,
    /// The page to open on the venue's tablet (its path carries the venue key).
    pub venue_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub enum EventCodeKind {
    /// Shown on the venue's screen, replaced every rotation period.
    Rotating,
    /// Printed, good for the event's whole window.
    Printed,
}

/// An event code to show: the QR payload, its window, and the symbol as SVG.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventCode {
    pub event_id: i64,
    pub kind: EventCodeKind,
    /// `CKE:…`
    pub payload: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The QR symbol, an SVG document.
    pub svg: String,
}

/// A resident claims the points of the event whose code they scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsClaimRequest {
    /// The scanned event code (`CKE:…`).
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsClaimReceipt {
    pub claim_id: i64,
    pub event_id: i64,
    pub event_name: String,
    pub place: String,
    pub points: Yen,
    /// When these points lapse.
    pub expires_at: DateTime<Utc>,
    /// Points the resident can spend now, these included.
    pub balance: Yen,
    pub created_at: DateTime<Utc>,
    /// For the screen, e.g. 「清掃活動に参加して100ポイントを受け取りました。」
    pub message: String,
}

/// Points that lapse together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsLot {
    pub balance: Yen,
    pub expires_at: DateTime<Utc>,
}

/// One participation that earned points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsActivity {
    pub claim_id: i64,
    pub event_id: i64,
    pub event_name: String,
    pub place: String,
    pub points: Yen,
    pub earned_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/v1/me/points`: what the resident has, when it lapses, and how it was earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PointsSummary {
    /// Points that can be spent now.
    pub balance: Yen,
    /// Unexpired points by expiry, earliest first.
    pub lots: Vec<PointsLot>,
    /// Newest first (the latest 100).
    pub activities: Vec<PointsActivity>,
    pub as_of: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_specs_refuse_unknown_fields_and_read_frequencies() {
        let json = r#"{"name":"清掃","place":"河川敷","points":100,
            "starts_at":"2024-12-01T00:00:00Z","ends_at":"2024-12-01T03:00:00Z",
            "frequency":"daily"}"#;
        let spec: PointsEventSpec = serde_json::from_str(json).unwrap();
        assert_eq!(spec.frequency, PointsFrequency::Daily);
        assert_eq!(spec.capacity, None);
        assert!(serde_json::from_str::<PointsEventSpec>(&json.replace("}", r#","x":1}"#)).is_err());
        for f in [PointsFrequency::Once, PointsFrequency::Daily] {
            assert_eq!(PointsFrequency::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
