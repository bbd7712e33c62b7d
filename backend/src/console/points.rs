//! Community points events: the list, defining a new event, changing one, its printed code
//! and the link to its venue screen. The same domain functions as the admin API
//! (`points::events::{create_audited, update_audited}`, `points::codes::printed_audited`).
//!
//! A form that does not pass is shown again with what was typed and the reason, so a long
//! description is never lost to a typo. Taking a printed code is a POST: it is audited, and
//! nothing that writes to the audit log may happen on GET.

use super::{
    Change, Chrome, CsrfField, DoneQuery, PageResult, Params, PlainForm, Staff, jst, page,
    see_other,
};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::points::events::{self, EventSpec, StoredEvent};
use crate::points::{PointsError, codes};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chiiki_core::Yen;
use chiiki_core::protocol::{PointsEventSpec, PointsFrequency};
use chiiki_core::time::{format_jst_datetime_local, parse_jst_datetime_local};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/points", get(list).post(create))
        .route("/console/points/{id}", get(show).post(change))
        .route("/console/points/{id}/printed-code", post(printed_code))
}

pub fn frequency_ja(frequency: PointsFrequency) -> &'static str {
    match frequency {
        PointsFrequency::Once => "1人1回",
        PointsFrequency::Daily => "1人1日1回",
    }
}

fn state_ja(event: &StoredEvent, now: DateTime<Utc>) -> &'static str {
    if now < event.spec.starts_at {
        "開催前"
    } else if now < event.spec.ends_at {
        "開催中"
    } else {
        "終了"
    }
}

/// An event as the list and the detail page show it.
pub struct EventLine {
    pub id: i64,
    pub name: String,
    pub place: String,
    pub description: String,
    pub points: i64,
    pub starts_at: String,
    pub ends_at: String,
    pub capacity: String,
    pub frequency: &'static str,
    pub participants: i64,
    pub state: &'static str,
    pub venue_path: String,
}

fn line(state: &AppState, event: &StoredEvent, now: DateTime<Utc>) -> EventLine {
    EventLine {
        id: event.id,
        name: event.spec.name.clone(),
        place: event.spec.place.clone(),
        description: event.spec.description.clone(),
        points: event.spec.points.get(),
        starts_at: jst(event.spec.starts_at),
        ends_at: jst(event.spec.ends_at),
        capacity: event
            .spec
            .capacity
            .map(|c| format!("{c}人"))
            .unwrap_or_else(|| "なし".to_string()),
        frequency: frequency_ja(event.spec.frequency),
        participants: event.participants,
        state: state_ja(event, now),
        venue_path: events::venue_path(state.db.vault(), event.id),
    }
}

/// What the event form holds: as typed, so that a refused form comes back as it was sent.
#[derive(Deserialize, Default, Clone)]
pub struct EventForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    points: String,
    /// JST wall-clock times from `datetime-local` fields.
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    /// Blank for no limit.
    #[serde(default)]
    capacity: String,
    #[serde(default)]
    frequency: String,
}

impl CsrfField for EventForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl EventForm {
    fn of(spec: &EventSpec) -> EventForm {
        EventForm {
            csrf: String::new(),
            name: spec.name.clone(),
            place: spec.place.clone(),
            description: spec.description.clone(),
            points: spec.points.get().to_string(),
            starts_at: format_jst_datetime_local(spec.starts_at),
            ends_at: format_jst_datetime_local(spec.ends_at),
            capacity: spec.capacity.map(|c| c.to_string()).unwrap_or_default(),
            frequency: spec.frequency.as_str().to_string(),
        }
    }

    /// A blank form for a new event: once per resident, today from 9:00 to 17:00 JST.
    fn blank(now: DateTime<Utc>) -> EventForm {
        let day = chiiki_core::time::jst_date(now).format("%Y-%m-%d");
        EventForm {
            starts_at: format!("{day}T09:00"),
            ends_at: format!("{day}T17:00"),
            frequency: PointsFrequency::Once.as_str().to_string(),
            ..EventForm::default()
        }
    }

    /// Reads the form into an event definition, with the programme's rules.
    fn parse(&self, state: &AppState) -> Result<EventSpec, FormError> {
        let points =
            self.points.trim().parse::<i64>().map_err(|_| {
                FormError::field("points", "ポイント数を半角数字で入力してください。")
            })?;
        let time = |text: &str, field: &'static str| {
            parse_jst_datetime_local(text).ok_or_else(|| {
                FormError::field(field, "日時を「2024-12-01 09:00」の形で入力してください。")
            })
        };
        let capacity = match self.capacity.trim() {
            "" => None,
            text => Some(text.parse::<i64>().map_err(|_| {
                FormError::field(
                    "capacity",
                    "定員は半角数字で入力してください（なしは空欄）。",
                )
            })?),
        };
        let frequency = PointsFrequency::parse(self.frequency.trim())
            .ok_or_else(|| FormError::field("frequency", "参加の回数を選んでください。"))?;
        let spec = PointsEventSpec {
            name: self.name.clone(),
            place: self.place.clone(),
            description: self.description.clone(),
            points: Yen(points),
            starts_at: time(&self.starts_at, "starts_at")?,
            ends_at: time(&self.ends_at, "ends_at")?,
            capacity,
            frequency,
        };
        EventSpec::parse(&spec, &state.programme.points).map_err(FormError::from)
    }

    fn is_daily(&self) -> bool {
        self.frequency == PointsFrequency::Daily.as_str()
    }
}

/// Why a form was refused, in words for the staff member at the desk.
pub struct FormError {
    message: String,
}

impl FormError {
    fn field(field: &str, reason: &str) -> FormError {
        FormError {
            message: format!("{}: {reason}", field_ja(field)),
        }
    }
}

impl From<PointsError> for FormError {
    fn from(e: PointsError) -> FormError {
        match e {
            PointsError::InvalidSpec { field, reason } => FormError::field(field, &reason),
            other => FormError {
                message: ApiError::from(other).message,
            },
        }
    }
}

fn field_ja(field: &str) -> &'static str {
    match field {
        "name" => "イベント名",
        "place" => "場所",
        "description" => "説明",
        "points" => "ポイント数",
        "starts_at" => "開始",
        "ends_at" => "終了",
        "capacity" => "定員",
        "frequency" => "参加の回数",
        _ => "入力",
    }
}

#[derive(Template)]
#[template(path = "console/points.html")]
struct ListPage {
    chrome: Chrome,
    events: Vec<EventLine>,
    form: EventForm,
    form_error: Option<String>,
    max_points: i64,
}

fn flash(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some(
            "イベントを登録しました。会場の画面のリンクと印刷用のQRコードはこのページから開けます。",
        ),
        "changed" => Some("イベントを変更しました。すでに付与したポイントはそのままです。"),
        _ => None,
    }
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Params(query): Params<DoneQuery>,
) -> PageResult {
    let form = EventForm::blank(state.clock.now());
    render_list(&state, &staff, query.done.as_deref(), form, None).await
}

async fn render_list(
    state: &AppState,
    staff: &Staff,
    done: Option<&str>,
    form: EventForm,
    form_error: Option<String>,
) -> PageResult {
    let now = state.clock.now();
    let events = events::list(&state.db, &state.programme.id).await?;
    page(&ListPage {
        chrome: Chrome::new(staff, "地域ポイントのイベント", "points").with_flash(flash(done)),
        events: events.iter().map(|e| line(state, e, now)).collect(),
        form,
        form_error,
        max_points: state.programme.points.max_points_per_participation,
    })
}

async fn create(
    State(state): State<AppState>,
    Change { staff, form }: Change<EventForm>,
) -> PageResult {
    let spec = match form.parse(&state) {
        Ok(spec) => spec,
        Err(e) => {
            let page = render_list(&state, &staff, None, form, Some(e.message)).await?;
            return Ok(refused(page));
        }
    };
    let now = state.clock.now();
    let event = events::create_audited(
        &state.db,
        &state.programme.id,
        &spec,
        &staff.actor(),
        &staff.ip,
        now,
    )
    .await?;
    Ok(see_other(&format!(
        "/console/points/{}?done=created",
        event.id
    )))
}

/// A form shown again because it did not pass: the status says so too.
fn refused(page: axum::response::Response) -> axum::response::Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

#[derive(Template)]
#[template(path = "console/points_event.html")]
struct EventPage {
    chrome: Chrome,
    event: EventLine,
    form: EventForm,
    form_error: Option<String>,
    max_points: i64,
}

async fn show(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    Params(query): Params<DoneQuery>,
) -> PageResult {
    let event = events::get(state.db.reader(), &state.programme.id, id).await?;
    let form = EventForm::of(&event.spec);
    render_event(&state, &staff, &event, query.done.as_deref(), form, None)
}

fn render_event(
    state: &AppState,
    staff: &Staff,
    event: &StoredEvent,
    done: Option<&str>,
    form: EventForm,
    form_error: Option<String>,
) -> PageResult {
    let title = format!("イベント {}", event.spec.name);
    page(&EventPage {
        chrome: Chrome::new(staff, &title, "points").with_flash(flash(done)),
        event: line(state, event, state.clock.now()),
        form,
        form_error,
        max_points: state.programme.points.max_points_per_participation,
    })
}

async fn change(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Change { staff, form }: Change<EventForm>,
) -> PageResult {
    let event = events::get(state.db.reader(), &state.programme.id, id).await?;
    let spec = match form.parse(&state) {
        Ok(spec) => spec,
        Err(e) => {
            let page = render_event(&state, &staff, &event, None, form, Some(e.message))?;
            return Ok(refused(page));
        }
    };
    events::update_audited(
        &state.db,
        &state.programme.id,
        id,
        &spec,
        &staff.actor(),
        &staff.ip,
        state.clock.now(),
    )
    .await?;
    Ok(see_other(&format!("/console/points/{id}?done=changed")))
}

#[derive(Template)]
#[template(path = "console/points_printed.html")]
struct PrintedPage {
    chrome: Chrome,
    event: EventLine,
    svg: String,
    payload: String,
    valid_from: String,
    valid_until: String,
}

/// The code to print for the event's whole window, on a page laid out for paper.
async fn printed_code(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Change { staff, .. }: Change<PlainForm>,
) -> PageResult {
    let now = state.clock.now();
    let event = events::get(state.db.reader(), &state.programme.id, id).await?;
    let code = codes::printed_audited(&state.db, &event, &staff.actor(), &staff.ip, now).await?;
    let title = format!("印刷用QRコード {}", event.spec.name);
    page(&PrintedPage {
        chrome: Chrome::new(&staff, &title, "points"),
        event: line(&state, &event, now),
        svg: code.svg,
        payload: code.payload,
        valid_from: jst(code.valid_from),
        valid_until: jst(code.valid_until),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_form_starts_as_a_day_event_once_per_resident() {
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2024, 11, 30, 16, 0, 0).unwrap();
        let form = EventForm::blank(now);
        // 16:00 UTC is already 1 December in Japan.
        assert_eq!(form.starts_at, "2024-12-01T09:00");
        assert_eq!(form.ends_at, "2024-12-01T17:00");
        assert!(!form.is_daily());
        assert_eq!(frequency_ja(PointsFrequency::Daily), "1人1日1回");
    }

    #[test]
    fn refusals_name_the_field_in_japanese() {
        let e = FormError::from(PointsError::InvalidSpec {
            field: "ends_at",
            reason: "終了は開始より後にしてください。".into(),
        });
        assert_eq!(e.message, "終了: 終了は開始より後にしてください。");
        assert!(
            FormError::field("capacity", "x")
                .message
                .starts_with("定員")
        );
    }
}
