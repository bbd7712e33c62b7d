//! Points events as staff define them: parsed once at the edge, stored per programme, listed
//! and changed. A change never touches points already awarded.

use super::{PointsError, PointsResult, PointsRules};
use crate::audit::Action;
use crate::clock::{from_millis, to_millis};
use crate::db::Db;
use crate::vault::Vault;
use chiiki_core::Yen;
use chiiki_core::protocol::{PointsEvent, PointsEventSpec, PointsFrequency};
use chrono::{DateTime, Utc};

/// An event definition that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub name: String,
    pub place: String,
    pub description: String,
    pub points: Yen,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: Option<i64>,
    pub frequency: PointsFrequency,
}

fn text(value: &str, field: &'static str, max: usize, required: bool) -> PointsResult<String> {
    let value = value.trim();
    if (required && value.is_empty()) || value.chars().count() > max {
        return Err(PointsError::InvalidSpec {
            field,
            reason: format!("{max}文字以内で入力してください。"),
        });
    }
    Ok(value.to_string())
}

impl EventSpec {
    pub fn parse(spec: &PointsEventSpec, rules: &PointsRules) -> PointsResult<EventSpec> {
        let invalid = |field, reason: &str| PointsError::InvalidSpec {
            field,
            reason: reason.to_string(),
        };
        let name = text(&spec.name, "name", 100, true)?;
        let place = text(&spec.place, "place", 100, true)?;
        let description = text(&spec.description, "description", 1000, false)?;
        if !spec.points.is_positive() || spec.points.get() > rules.max_points_per_participation {
            return Err(PointsError::InvalidSpec {
                field: "points",
                reason: format!(
                    "1〜{}ポイントで指定してください。",
                    rules.max_points_per_participation
                ),
            });
        }
        if spec.ends_at <= spec.starts_at {
            return Err(invalid("ends_at", "終了は開始より後にしてください。"));
        }
        if spec.capacity.is_some_and(|c| c <= 0) {
            return Err(invalid("capacity", "定員は1人以上にしてください。"));
        }
        Ok(EventSpec {
            name,
            place,
            description,
            points: spec.points,
            starts_at: spec.starts_at,
            ends_at: spec.ends_at,
            capacity: spec.capacity,
            frequency: spec.frequency,
        })
    }
}

impl EventSpec {
    /// What an event's audit entry records of its definition.
    pub fn audit_detail(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "place": self.place,
            "points": self.points.get(),
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "capacity": self.capacity,
            "frequency": self.frequency.as_str(),
        })
    }
}

/// The venue page's path for an event. Its key is a keyed hash of the event id (from the key
/// file), so only staff who were given the path can open the rotating code: a public page
/// would let anyone claim from home.
pub fn venue_path(vault: &Vault, event_id: i64) -> String {
    format!("/venue/points/{event_id}/{}", venue_key(vault, event_id))
}

pub fn venue_key(vault: &Vault, event_id: i64) -> String {
    vault.blind_index("points-venue", &event_id.to_string())
}

/// An event row as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub programme_id: String,
    pub spec: EventSpec,
    pub participants: i64,
}

type Row = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
);

const SELECT: &str = "SELECT e.id, e.programme_id, e.name, e.place, e.description, e.points,
        e.starts_at, e.ends_at, e.capacity, e.frequency,
        (SELECT COUNT(*) FROM points_claims c WHERE c.event_id = e.id)
    FROM points_events e";

fn from_row(row: Row) -> PointsResult<StoredEvent> {
    let (id, programme_id, name, place, description, points, starts, ends, capacity, freq, n) = row;
    let frequency = PointsFrequency::parse(&freq).ok_or_else(|| {
        PointsError::Ledger(crate::ledger::LedgerError::Inconsistent(format!(
            "event {id} frequency {freq}"
        )))
    })?;
    Ok(StoredEvent {
        id,
        programme_id,
        spec: EventSpec {
            name,
            place,
            description,
            points: Yen(points),
            starts_at: from_millis(starts),
            ends_at: from_millis(ends),
            capacity,
            frequency,
        },
        participants: n,
    })
}

impl StoredEvent {
    pub fn view(&self, vault: &Vault) -> PointsEvent {
        PointsEvent {
            id: self.id,
            name: self.spec.name.clone(),
            place: self.spec.place.clone(),
            description: self.spec.description.clone(),
            points: self.spec.points,
            starts_at: self.spec.starts_at,
            ends_at: self.spec.ends_at,
            capacity: self.spec.capacity,
            frequency: self.spec.frequency,
            participants: self.participants,
            venue_path: venue_path(vault, self.id),
        }
    }
}

/// One event of `programme_id`; another programme's event is as unknown as a missing one.
pub async fn get<'e, E>(exec: E, programme_id: &str, id: i64) -> PointsResult<StoredEvent>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE e.id = $1 AND e.programme_id = $2"
    )))
    .bind(id)
    .bind(programme_id)
    .fetch_optional(exec)
    .await?
    .ok_or(PointsError::UnknownEvent)?;
    from_row(row)
}

/// The programme's events, latest start first.
pub async fn list(db: &Db, programme_id: &str) -> PointsResult<Vec<StoredEvent>> {
    let rows = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE e.programme_id = $1 ORDER BY e.starts_at DESC, e.id DESC"
    )))
    .bind(programme_id)
    .fetch_all(db.reader())
    .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn create(
    db: &Db,
    programme_id: &str,
    spec: &EventSpec,
    actor: &str,
    now: DateTime<Utc>,
) -> PointsResult<StoredEvent> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO points_events (programme_id, name, place, description, points, starts_at,
             ends_at, capacity, frequency, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
    )
    .bind(programme_id)
    .bind(&spec.name)
    .bind(&spec.place)
    .bind(&spec.description)
    .bind(spec.points.get())
    .bind(to_millis(spec.starts_at))
    .bind(to_millis(spec.ends_at))
    .bind(spec.capacity)
    .bind(spec.frequency.as_str())
    .bind(actor)
    .bind(to_millis(now))
    .fetch_one(db.writer())
    .await?;
    get(db.writer(), programme_id, id).await
}

/// A staff member defines an event (over the API or in the console): stored, then written to
/// the audit log and the change log.
pub async fn create_audited(
    db: &Db,
    programme_id: &str,
    spec: &EventSpec,
    actor: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> PointsResult<StoredEvent> {
    let event = create(db, programme_id, spec, actor, now).await?;
    let entry = Action::new(actor, ip, "points.event_create")
        .target(format!("points_event:{}", event.id))
        .detail(spec.audit_detail());
    crate::audit::record_after(db, entry, now).await;
    tracing::info!(target: crate::ops::logs::CHANGE, actor, event_id = event.id, "points event created");
    Ok(event)
}

/// A staff member changes an event: [`update`], then the audit log and the change log.
pub async fn update_audited(
    db: &Db,
    programme_id: &str,
    id: i64,
    spec: &EventSpec,
    actor: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> PointsResult<StoredEvent> {
    let event = update(db, programme_id, id, spec, now).await?;
    let entry = Action::new(actor, ip, "points.event_update")
        .target(format!("points_event:{id}"))
        .detail(spec.audit_detail());
    crate::audit::record_after(db, entry, now).await;
    tracing::info!(target: crate::ops::logs::CHANGE, actor, event_id = id, "points event changed");
    Ok(event)
}

/// Changes an event. Claims already made stay as they were (and keep counting against a
/// lowered capacity).
pub async fn update(
    db: &Db,
    programme_id: &str,
    id: i64,
    spec: &EventSpec,
    now: DateTime<Utc>,
) -> PointsResult<StoredEvent> {
    let changed = sqlx::query(
        "UPDATE points_events SET name = $1, place = $2, description = $3, points = $4,
             starts_at = $5, ends_at = $6, capacity = $7, frequency = $8, updated_at = $9
         WHERE id = $10 AND programme_id = $11",
    )
    .bind(&spec.name)
    .bind(&spec.place)
    .bind(&spec.description)
    .bind(spec.points.get())
    .bind(to_millis(spec.starts_at))
    .bind(to_millis(spec.ends_at))
    .bind(spec.capacity)
    .bind(spec.frequency.as_str())
    .bind(to_millis(now))
    .bind(id)
    .bind(programme_id)
    .execute(db.writer())
    .await?;
    if changed.rows_affected() != 1 {
        return Err(PointsError::UnknownEvent);
    }
    get(db.writer(), programme_id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn spec() -> PointsEventSpec {
        PointsEventSpec {
            name: " 河川敷クリーン作戦 ".into(),
            place: "渡良瀬川河川敷".into(),
            description: String::new(),
            points: Yen(100),
            starts_at: Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2024, 12, 1, 3, 0, 0).unwrap(),
            capacity: Some(50),
            frequency: PointsFrequency::Once,
        }
    }

    fn field(result: PointsResult<EventSpec>) -> &'static str {
        match result {
            Err(PointsError::InvalidSpec { field, .. }) => field,
            other => panic!("expected an invalid spec, got {other:?}"),
        }
    }

    #[test]
    fn a_good_spec_is_trimmed_and_kept() {
        let parsed = EventSpec::parse(&spec(), &PointsRules::default()).unwrap();
        assert_eq!(parsed.name, "河川敷クリーン作戦");
        assert_eq!(parsed.capacity, Some(50));
    }

    #[test]
    fn bad_specs_name_the_field() {
        let rules = PointsRules::default();
        let with = |f: fn(&mut PointsEventSpec)| {
            let mut s = spec();
            f(&mut s);
            EventSpec::parse(&s, &rules)
        };
        assert_eq!(field(with(|s| s.name = "  ".into())), "name");
        assert_eq!(field(with(|s| s.place = "x".repeat(101))), "place");
        assert_eq!(field(with(|s| s.points = Yen(0))), "points");
        assert_eq!(field(with(|s| s.points = Yen(10_001))), "points");
        assert_eq!(field(with(|s| s.ends_at = s.starts_at)), "ends_at");
        assert_eq!(field(with(|s| s.capacity = Some(0))), "capacity");
    }
}
