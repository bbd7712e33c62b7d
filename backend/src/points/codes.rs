//! Event codes: signed with the city's P-256 key from the key file (never the database), and
//! checked in the order that gives a resident the right reason: readable, this programme,
//! the city's signature, then the code's window (a rotating code's slot and grace).

use super::events::StoredEvent;
use super::{PointsError, PointsResult, PointsRules};
use crate::vault::Vault;
use chiiki_core::protocol::{EventCode, EventCodeKind};
use chiiki_core::qr::{self, EventToken, QrError, SignedEventCode};
use chrono::{DateTime, TimeZone, Utc};
use ring::rand::SystemRandom;
use ring::signature::KeyPair;

fn unix(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The rotation slot `now` falls in: `[start, start + rotation_secs)`.
pub fn slot(now: DateTime<Utc>, rules: &PointsRules) -> (i64, i64) {
    let period = i64::from(rules.rotation_secs.max(1));
    let start = unix(now) - unix(now).rem_euclid(period);
    (start, start + period)
}

fn sign(vault: &Vault, token: &EventToken) -> PointsResult<String> {
    let key = vault.event_key().ok_or(PointsError::KeyMissing)?;
    let signature = key
        .sign(&SystemRandom::new(), &token.signing_bytes())
        .map_err(|_| PointsError::KeyMissing)?;
    token.encode(signature.as_ref()).map_err(PointsError::Code)
}

fn shown(
    event_id: i64,
    kind: EventCodeKind,
    token: &EventToken,
    payload: String,
) -> PointsResult<EventCode> {
    let svg = qr::render::to_svg(&payload).map_err(PointsError::Code)?;
    Ok(EventCode {
        event_id,
        kind,
        payload,
        valid_from: instant(token.valid_from),
        valid_until: instant(token.valid_until),
        svg,
    })
}

/// The code a venue screen shows now: good for the current rotation slot.
pub fn rotating(
    vault: &Vault,
    event: &StoredEvent,
    rules: &PointsRules,
    now: DateTime<Utc>,
) -> PointsResult<EventCode> {
    let (valid_from, valid_until) = slot(now, rules);
    let token = EventToken {
        kind: qr::EventCodeKind::Rotating,
        programme: event.programme_id.clone(),
        event_id: event.id,
        valid_from,
        valid_until,
    };
    let payload = sign(vault, &token)?;
    shown(event.id, EventCodeKind::Rotating, &token, payload)
}

/// A code to print: good for the event's whole window.
pub fn printed(vault: &Vault, event: &StoredEvent) -> PointsResult<EventCode> {
    let token = EventToken {
        kind: qr::EventCodeKind::Printed,
        programme: event.programme_id.clone(),
        event_id: event.id,
        valid_from: unix(event.spec.starts_at),
        valid_until: unix(event.spec.ends_at).max(unix(event.spec.starts_at) + 1),
    };
    let payload = sign(vault, &token)?;
    shown(event.id, EventCodeKind::Printed, &token, payload)
}

/// A printed code taken by a staff member: anyone holding the paper can claim, so who took
/// one, and for which window, is on record (audit log and operation log).
pub async fn printed_audited(
    db: &crate::db::Db,
    event: &StoredEvent,
    actor: &str,
    ip: &str,
    now: DateTime<Utc>,
) -> PointsResult<EventCode> {
    let code = printed(db.vault(), event)?;
    let entry = crate::audit::Action::new(actor, ip, "points.printed_code")
        .target(format!("points_event:{}", event.id))
        .detail(serde_json::json!({ "valid_until": code.valid_until }));
    crate::audit::record_after(db, entry, now).await;
    tracing::info!(target: crate::ops::logs::OPERATION, actor, event_id = event.id, "printed points code issued");
    Ok(code)
}

/// Checks a scanned payload up to (not including) the event's own rules, which need the
/// database. Returns the event it names.
pub fn check(
    vault: &Vault,
    programme_id: &str,
    payload: &str,
    rules: &PointsRules,
    now: DateTime<Utc>,
) -> PointsResult<i64> {
    let code = qr::decode_event_code(payload.trim()).map_err(PointsError::Code)?;
    check_decoded(vault, programme_id, &code, rules, now)?;
    Ok(code.token.event_id)
}

fn check_decoded(
    vault: &Vault,
    programme_id: &str,
    code: &SignedEventCode,
    rules: &PointsRules,
    now: DateTime<Utc>,
) -> PointsResult<()> {
    code.check_programme(programme_id)
        .map_err(|_| PointsError::OtherProgramme {
            found: code.token.programme.clone(),
        })?;
    let key = vault.event_key().ok_or(PointsError::KeyMissing)?;
    code.verify(key.public_key().as_ref())
        .map_err(|_| PointsError::Tampered)?;
    let (grace, stale) = match code.token.kind {
        qr::EventCodeKind::Rotating => (i64::from(rules.rotation_grace_secs), PointsError::Rotated),
        qr::EventCodeKind::Printed => (0, PointsError::Expired),
    };
    match code.check_window(unix(now), grace) {
        Ok(()) => Ok(()),
        Err(QrError::NotYetValid) => Err(PointsError::NotStarted {
            starts_at: instant(code.token.valid_from),
        }),
        Err(_) => Err(stale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::points::events::EventSpec;
    use chiiki_core::Yen;
    use chiiki_core::protocol::PointsFrequency;

    fn vault() -> Vault {
        Vault::ephemeral().unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        instant(1_733_000_000 + secs)
    }

    fn event() -> StoredEvent {
        StoredEvent {
            id: 5,
            programme_id: "midori-2024".into(),
            spec: EventSpec {
                name: "清掃".into(),
                place: "河川敷".into(),
                description: String::new(),
                points: Yen(100),
                starts_at: at(-3600),
                ends_at: at(3600),
                capacity: None,
                frequency: PointsFrequency::Once,
            },
            participants: 0,
        }
    }

    fn rules() -> PointsRules {
        PointsRules::default()
    }

    #[test]
    fn a_rotating_code_is_good_for_its_slot_and_the_grace_after_it() {
        let vault = vault();
        let now = at(0);
        let code = rotating(&vault, &event(), &rules(), now).unwrap();
        let (start, end) = slot(now, &rules());
        assert_eq!(end - start, 30);
        assert!(start <= unix(now) && unix(now) < end);
        let check_at = |t: DateTime<Utc>| check(&vault, "midori-2024", &code.payload, &rules(), t);
        assert_eq!(check_at(now).unwrap(), 5);
        assert!(check_at(instant(end + 29)).is_ok());
        assert!(matches!(
            check_at(instant(end + 30)),
            Err(PointsError::Rotated)
        ));
        assert!(matches!(
            check_at(instant(start - 1)),
            Err(PointsError::NotStarted { .. })
        ));
    }

    #[test]
    fn a_printed_code_is_good_for_the_events_window() {
        let vault = vault();
        let code = printed(&vault, &event()).unwrap();
        let check_at = |t| check(&vault, "midori-2024", &code.payload, &rules(), t);
        assert!(check_at(at(-3600)).is_ok());
        assert!(check_at(at(3599)).is_ok());
        assert!(matches!(check_at(at(3600)), Err(PointsError::Expired)));
    }

    #[test]
    fn another_citys_key_or_programme_is_refused_with_its_own_reason() {
        let ours = vault();
        let theirs = vault();
        let code = printed(&theirs, &event()).unwrap();
        assert!(matches!(
            check(&ours, "midori-2024", &code.payload, &rules(), at(0)),
            Err(PointsError::Tampered)
        ));
        assert!(matches!(
            check(&theirs, "kiryu-2025", &code.payload, &rules(), at(0)),
            Err(PointsError::OtherProgramme { found }) if found == "midori-2024"
        ));
        assert!(matches!(
            check(&ours, "midori-2024", "CKR:123", &rules(), at(0)),
            Err(PointsError::Code(_))
        ));
    }

    #[test]
    fn a_key_file_without_an_event_key_cannot_sign() {
        let text = Vault::generate_toml("k1").unwrap();
        let without: String = text
            .lines()
            .filter(|l| !l.starts_with("event_key"))
            .map(|l| format!("{l}\n"))
            .collect();
        let vault = Vault::from_toml(&without).unwrap();
        assert!(matches!(
            printed(&vault, &event()),
            Err(PointsError::KeyMissing)
        ));
    }
}
