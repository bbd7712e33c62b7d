//! Community points in the app: a scanned event code (`CKE:…`, from the venue's screen or a
//! printed poster) is claimed at once, and the points data the screen shows (what can be spent,
//! when it lapses, the activities that earned it).
//!
//! A claim carries an idempotency key drawn for it. If the answer is lost, scanning the same
//! code again sends the same key and body, so the resident never earns twice and never loses a
//! claim that did land. Every refusal (already claimed, code replaced, event over, full, another
//! programme's code, a forged code) ends with a plain message; nothing is claimed twice.

use crux_core::Command;

use crate::{
    Yen,
    protocol::{ErrorCode, PointsClaimReceipt, PointsClaimRequest, PointsSummary, paths},
    time::format_jst_date,
};

use super::{
    Event, Internal,
    api::{ApiError, ApiResult, Call},
    effects::{Effect, RandomBytesRequest, render},
    internal, messages,
    model::{Alert, Model, PayStep, Retry, Screen},
    pay, refresh,
};

/// What the app knows about the resident's points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointsState {
    pub summary: Option<PointsSummary>,
    pub loading: bool,
    /// The claim being made, if any.
    pub claim: Option<PendingClaim>,
    /// The last claim's outcome, for the points screen.
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingClaim {
    pub payload: String,
    /// Drawn once per claim; a repeat of the same code reuses it.
    pub key: Option<String>,
    pub in_flight: bool,
}

pub const CLAIMING: &str = "ポイントを受け取っています…";
pub const LOADING: &str = "ポイントを確かめています…";

/// The points screen: what can be spent, when it lapses, and the activities that earned it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PointsView {
    /// e.g. "1,200ポイント"
    pub balance: String,
    /// How points are used, in one sentence.
    pub explanation: String,
    /// Earliest expiry first.
    pub lots: Vec<PointsLotView>,
    /// Newest first.
    pub activities: Vec<PointsActivityView>,
    pub notice: Option<String>,
    /// Shown while the points are being fetched or a claim is on its way.
    pub busy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PointsLotView {
    /// "300ポイント"
    pub points: String,
    /// "2025年12月1日まで使えます"
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PointsActivityView {
    pub event: String,
    pub place: String,
    /// "+100ポイント"
    pub points: String,
    /// "2024年12月1日"
    pub earned_on: String,
    /// "2025年12月1日まで"
    pub expires: String,
}

/// "1,200ポイント"
pub fn format_points(points: Yen) -> String {
    let yen = Yen(points.get().abs()).display();
    let digits = yen.trim_start_matches('¥');
    let sign = if points.get() < 0 { "-" } else { "" };
    format!("{sign}{digits}ポイント")
}

/// The points screen, with the points fetched afresh.
pub fn open(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    model.screen = Screen::Points;
    render().and(fetch(model))
}

/// Fetch the resident's points (on opening the screen, on a refresh, after a claim) without
/// moving the resident: a claim's answer may arrive while they are paying elsewhere.
pub fn fetch(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return Command::done();
    }
    model.points.loading = true;
    Call::get(paths::ME_POINTS).send(model.connection().as_ref(), |result| {
        internal(Internal::PointsFetched(result))
    })
}

pub fn fetched(model: &mut Model, result: ApiResult<PointsSummary>) -> Command<Effect, Event> {
    model.points.loading = false;
    match result {
        Ok(summary) => {
            model.points.summary = Some(summary);
            render()
        }
        Err(error) => refresh::failed(model, &error, Retry::Refresh),
    }
}

/// A scanned event code: claim its points now. The payment flow hands these over.
pub fn code_scanned(model: &mut Model, payload: String) -> Command<Effect, Event> {
    model.pay = PayStep::Idle;
    model.screen = Screen::Home;
    model.alert = None;
    if !model.signed_in() {
        return render();
    }
    let payload = payload.trim().to_string();
    match &model.points.claim {
        // The same code again while its claim is unanswered: the same request, same key.
        Some(claim) if claim.payload == payload => {
            if claim.in_flight || claim.key.is_none() {
                return render();
            }
            return render().and(send(model));
        }
        Some(claim) if claim.in_flight || claim.key.is_none() => return render(),
        _ => {}
    }
    model.points.claim = Some(PendingClaim {
        payload,
        key: None,
        in_flight: false,
    });
    model.points.notice = None;
    render().and(
        Command::request_from_shell(RandomBytesRequest {
            len: pay::KEY_BYTES,
        })
        .then_send(|bytes| internal(Internal::PointsKeyDrawn(bytes))),
    )
}

pub fn key_drawn(model: &mut Model, bytes: &[u8]) -> Command<Effect, Event> {
    let Some(claim) = model.points.claim.as_mut() else {
        return Command::done();
    };
    if claim.key.is_some() {
        return Command::done();
    }
    if bytes.len() < pay::KEY_BYTES as usize {
        model.points.claim = None;
        model.alert = Some(Alert::new(messages::SOMETHING_WRONG));
        return render();
    }
    claim.key = Some(pay::hex(bytes));
    render().and(send(model))
}

fn send(model: &mut Model) -> Command<Effect, Event> {
    let connection = model.connection();
    let Some(claim) = model.points.claim.as_mut() else {
        return Command::done();
    };
    let Some(key) = claim.key.clone() else {
        return Command::done();
    };
    claim.in_flight = true;
    let body = PointsClaimRequest {
        payload: claim.payload.clone(),
    };
    Call::post(paths::ME_POINTS_CLAIMS, &body)
        .idempotency_key(&key)
        .send(connection.as_ref(), move |result| {
            internal(Internal::PointsClaimed { key, result })
        })
}

pub fn claimed(
    model: &mut Model,
    key: &str,
    result: ApiResult<PointsClaimReceipt>,
) -> Command<Effect, Event> {
    let current = model
        .points
        .claim
        .as_ref()
        .is_some_and(|c| c.key.as_deref() == Some(key));
    if !current {
        return Command::done();
    }
    match result {
        Ok(receipt) => {
            model.points.claim = None;
            model.points.notice = Some(receipt.message.clone());
            model.alert = Some(Alert::new(receipt.message));
            render()
                .and(fetch(model))
                .and(refresh::fetch_balance(model))
        }
        Err(error) if error.is_definite() => {
            model.points.claim = None;
            if refresh::is_signed_out(&error) {
                return refresh::signed_out(model);
            }
            let message = refusal_message(&error);
            model.points.notice = Some(message.clone());
            model.alert = Some(Alert::new(message));
            render()
        }
        Err(_) => {
            // Lost or busy: keep the key; scanning the same code again repeats this claim.
            if let Some(claim) = model.points.claim.as_mut() {
                claim.in_flight = false;
            }
            model.alert = Some(Alert::with_retry(NOT_CONFIRMED, Retry::Scan));
            render()
        }
    }
}

pub const NOT_CONFIRMED: &str = "ポイントを受け取れたか確かめられませんでした。電波の届く所で、同じQRコードをもう一度読み取ってください（二重に受け取ることはありません）。";

/// What to tell the resident when the server refused a claim.
pub fn refusal_message(error: &ApiError) -> String {
    let fixed = match error.code() {
        Some(ErrorCode::PointsAlreadyClaimed) => {
            "このイベントのポイントは、もう受け取っています（毎日のイベントは1日1回です）。"
        }
        Some(ErrorCode::EventCodeRotated) => {
            "このQRコードは古くなっています。会場の画面に出ている新しいQRコードを読み取ってください。"
        }
        Some(ErrorCode::EventCodeExpired) => "このイベントの受付は終わりました。",
        Some(ErrorCode::EventNotStarted) => "このイベントの受付はまだ始まっていません。",
        Some(ErrorCode::EventFull) => "このイベントは定員に達したため、ポイントを受け取れません。",
        Some(ErrorCode::EventCodeOtherProgramme) => {
            "このQRコードは別の地域通貨のイベントのものです。このアプリでは受け取れません。"
        }
        Some(ErrorCode::EventCodeTampered) | Some(ErrorCode::InvalidEventCode) => {
            "このQRコードではポイントを受け取れません。会場のQRコードを読み取ってください。"
        }
        Some(ErrorCode::UnknownEvent) => "このイベントは見つかりませんでした。",
        _ => return messages::for_error(error),
    };
    fixed.to_string()
}

pub fn view(model: &Model) -> PointsView {
    let state = &model.points;
    let busy = if state.claim.is_some() {
        Some(CLAIMING.to_string())
    } else if state.loading && state.summary.is_none() {
        Some(LOADING.to_string())
    } else {
        None
    };
    let summary = state.summary.as_ref();
    // Until the summary arrives, the balance the home screen already has.
    let balance = summary
        .map(|s| s.balance)
        .or_else(|| model.balance.as_ref().map(|b| b.points))
        .unwrap_or(Yen(0));
    PointsView {
        balance: format_points(balance),
        explanation: "1ポイント = 1円として、お店でのお支払いに使えます（お支払いのときに「ポイントを使う」を選んでください）。".into(),
        lots: summary
            .map(|s| {
                s.lots
                    .iter()
                    .map(|lot| PointsLotView {
                        points: format_points(lot.balance),
                        expires: format!("{}まで使えます", last_day(lot.expires_at)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        activities: summary
            .map(|s| {
                s.activities
                    .iter()
                    .map(|a| PointsActivityView {
                        event: a.event_name.clone(),
                        place: a.place.clone(),
                        points: format!("+{}", format_points(a.points)),
                        earned_on: format_jst_date(a.earned_at),
                        expires: format!("{}まで", last_day(a.expires_at)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        notice: state.notice.clone(),
        busy,
    }
}

/// Points lapse at midnight JST; the last day they can be spent is the day before.
fn last_day(expires_at: chrono::DateTime<chrono::Utc>) -> String {
    format_jst_date(expires_at - chrono::Duration::seconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{ScreenView, testing::*};
    use serde_json::json;

    const CODE: &str = "CKE:EXAMPLE";
    const KEY: &str = "abababababababababababababababab";

    fn receipt() -> serde_json::Value {
        json!({
            "claim_id": 1, "event_id": 5, "event_name": "河川敷クリーン作戦",
            "place": "渡良瀬川河川敷", "points": 100,
            "expires_at": "2025-12-01T15:00:00Z", "balance": 1300,
            "created_at": "2024-12-01T03:00:00Z",
            "message": "「河川敷クリーン作戦」に参加して100ポイントを受け取りました。"
        })
    }

    fn summary() -> serde_json::Value {
        json!({
            "balance": 1300,
            "lots": [
                { "balance": 1200, "expires_at": "2025-11-20T15:00:00Z" },
                { "balance": 100, "expires_at": "2025-12-01T15:00:00Z" }
            ],
            "activities": [{
                "claim_id": 1, "event_id": 5, "event_name": "河川敷クリーン作戦",
                "place": "渡良瀬川河川敷", "points": 100,
                "earned_at": "2024-12-01T03:00:00Z", "expires_at": "2025-12-01T15:00:00Z"
            }],
            "as_of": "2024-12-01T03:00:00Z"
        })
    }

    fn scan(phone: &mut Phone, payload: &str) {
        phone.send(Event::PayTapped);
        phone.send(Event::CodeScanned(payload.into()));
    }

    fn points_view(phone: &Phone) -> PointsView {
        phone.view().points.expect("signed in")
    }

    #[test]
    fn a_scanned_event_code_is_claimed_at_once_and_the_points_show() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, CODE);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xab; 16]);
        let sent = phone.respond_to(paths::ME_POINTS_CLAIMS, answer(201, &receipt()));
        assert_eq!(header(&sent, "idempotency-key"), Some(KEY));
        assert_eq!(json_body(&sent), json!({ "payload": CODE }));
        phone.respond_to(paths::ME_POINTS, answer(200, &summary()));
        phone.respond_to("/api/v1/me/balance", answer(200, &balance(6500, 1300)));

        let alert = phone.view().alert.expect("the outcome is shown");
        assert!(
            alert.message.contains("100ポイントを受け取りました"),
            "{}",
            alert.message
        );
        let view = points_view(&phone);
        assert_eq!(view.balance, "1,300ポイント");
        assert_eq!(view.lots.len(), 2);
        assert_eq!(view.lots[0].points, "1,200ポイント");
        assert_eq!(view.lots[0].expires, "2025年11月20日まで使えます");
        assert_eq!(view.activities[0].points, "+100ポイント");
        assert_eq!(view.activities[0].earned_on, "2024年12月1日");
        assert_eq!(view.activities[0].expires, "2025年12月1日まで");
        assert_eq!(view.busy, None);
    }

    #[test]
    fn a_lost_answer_is_repeated_with_the_same_key_by_scanning_again() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, CODE);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xab; 16]);
        let first = phone.respond_to(paths::ME_POINTS_CLAIMS, lost());
        assert!(
            phone
                .view()
                .alert
                .is_some_and(|a| a.message == NOT_CONFIRMED)
        );

        scan(&mut phone, CODE);
        assert!(!phone.has::<RandomBytesRequest>(), "no second key");
        let second = phone.respond_to(paths::ME_POINTS_CLAIMS, answer(201, &receipt()));
        assert_eq!(header(&second, "idempotency-key"), Some(KEY));
        assert_eq!(json_body(&second), json_body(&first));
    }

    #[test]
    fn refusals_end_with_a_plain_message_and_nothing_pending() {
        for (code, words) in [
            ("points_already_claimed", "もう受け取っています"),
            ("event_code_rotated", "新しいQRコード"),
            ("event_code_expired", "受付は終わりました"),
            ("event_full", "定員"),
            ("event_code_other_programme", "別の地域通貨"),
            ("event_code_tampered", "受け取れません"),
        ] {
            let mut phone = Phone::signed_in();
            scan(&mut phone, CODE);
            let mut random = phone.take::<RandomBytesRequest>();
            phone.resolve(&mut random, vec![0xab; 16]);
            let status = if code == "points_already_claimed" || code == "event_full" {
                409
            } else {
                422
            };
            phone.respond_to(paths::ME_POINTS_CLAIMS, refusal(status, code));
            let alert = phone.view().alert.expect("a message");
            assert!(alert.message.contains(words), "{code}: {}", alert.message);
            assert_eq!(points_view(&phone).busy, None, "nothing pending");
        }
    }

    #[test]
    fn store_codes_still_go_to_payment() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, &store_code(bakery().id));
        assert!(!phone.has::<RandomBytesRequest>());
        assert_eq!(points_view(&phone).busy, None);
    }

    #[test]
    fn opening_points_shows_the_points_screen_and_back_returns_home() {
        let mut phone = Phone::signed_in();
        phone.send(Event::PointsOpened);
        match phone.view().screen {
            ScreenView::Points(view) => assert_eq!(view.busy.as_deref(), Some(LOADING)),
            other => panic!("expected the points screen, got {other:?}"),
        }
        phone.respond_to(paths::ME_POINTS, answer(200, &summary()));
        let ScreenView::Points(view) = phone.view().screen else {
            panic!("still on the points screen");
        };
        assert_eq!(view.balance, "1,300ポイント");
        assert_eq!(view.lots[1].expires, "2025年12月1日まで使えます");
        assert_eq!(view.activities[0].event, "河川敷クリーン作戦");
        assert_eq!(view.busy, None);

        // Pulled down to refresh: the points are asked for again.
        phone.send(Event::RefreshRequested);
        phone.respond_to(paths::ME_POINTS, answer(200, &summary()));

        phone.send(Event::HomeOpened);
        assert!(matches!(phone.view().screen, ScreenView::Home(_)));
    }

    #[test]
    fn a_claim_answered_later_leaves_the_resident_where_they_are() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, CODE);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xab; 16]);
        phone.respond_to(paths::ME_POINTS_CLAIMS, answer(201, &receipt()));
        assert!(matches!(phone.view().screen, ScreenView::Home(_)));
    }

    #[test]
    fn points_are_written_with_thousands_separators() {
        assert_eq!(format_points(Yen(0)), "0ポイント");
        assert_eq!(format_points(Yen(1_234_567)), "1,234,567ポイント");
        assert_eq!(format_points(Yen(-50)), "-50ポイント");
    }
}
