//! The till: an amount typed in, shown as an amount code for the resident to scan, or charged
//! to the resident's code that staff scan.
//!
//! Exactly once, as the resident app's payment: once the code is scanned, the charge gets a
//! random idempotency key and is written to the cache *before* it is first sent. Until the
//! server answers it is sent again with the same key and body (after a lost answer, after a
//! restart), and the server returns the one receipt. Only a definite refusal ends it without
//! one; nothing is charged then.

use crux_core::Command;

use crate::app::{
    RandomBytesRequest, ScanOutcome, ScanRequest, TimerRequest,
    api::{ApiError, ApiResult, Call},
    cache, text,
};
use crate::protocol::{StoreChargeReceipt, StoreChargeRequest, paths};
use crate::{Yen, qr};

use super::{
    Event, Internal,
    effects::Effect,
    hex, internal, messages,
    model::{Alert, ChargeStep, Model, PendingCharge, Retry, Screen},
    render, sales,
    session::{self, PENDING_CHARGE},
};

/// Bytes of randomness in an idempotency key (sent as 32 hex digits).
const KEY_BYTES: u32 = 16;
/// First wait before sending an unanswered charge again; doubled up to the maximum.
const FIRST_RETRY_MS: u64 = 2_000;
const MAX_RETRY_MS: u64 = 60_000;

pub fn amount_entered(model: &mut Model, text: String) -> Command<Effect, Event> {
    model.amount_text = text;
    if matches!(model.charge, ChargeStep::Done { .. }) {
        model.charge = ChargeStep::Idle;
    }
    render()
}

/// The typed amount, if it is a positive number of yen that a code can carry.
pub fn typed_amount(text: &str) -> Option<Yen> {
    let yen = Yen(text::digits(text)?.parse().ok()?);
    (yen.is_positive() && yen <= qr::merchant::MAX_AMOUNT).then_some(yen)
}

fn amount_or_alert(model: &mut Model) -> Option<Yen> {
    let amount = typed_amount(&model.amount_text);
    if amount.is_none() {
        model.alert = Some(Alert::new(messages::AMOUNT_INVALID));
    }
    amount
}

pub fn show_amount_code(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() || amount_or_alert(model).is_none() {
        return render();
    }
    if model.store_code.is_none() {
        model.alert = Some(Alert::with_retry(
            messages::STORE_CODE_MISSING,
            Retry::Setup,
        ));
        return render();
    }
    model.screen = Screen::AmountCode;
    render()
}

/// The amount code for the typed amount, when there is one to show.
pub fn amount_code(model: &Model) -> Option<(Yen, String)> {
    let amount = typed_amount(&model.amount_text)?;
    let payload =
        qr::amount_code_from_store_code(model.store_code.as_deref()?, amount, None).ok()?;
    Some((amount, payload))
}

pub fn close_amount_code(model: &mut Model) -> Command<Effect, Event> {
    if model.screen == Screen::AmountCode {
        model.screen = Screen::Till;
    }
    render()
}

pub fn start_scan(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    if model.pending.is_some() {
        model.alert = Some(Alert::new(messages::CHARGE_STILL_CONFIRMING));
        return render();
    }
    let Some(amount) = amount_or_alert(model) else {
        return render();
    };
    model.screen = Screen::Till;
    model.charge = ChargeStep::Scanning { amount };
    model.alert = None;
    render().and(
        Command::request_from_shell(ScanRequest)
            .then_send(|outcome| internal(Internal::Scanned(outcome))),
    )
}

pub fn scanned(model: &mut Model, outcome: ScanOutcome) -> Command<Effect, Event> {
    match outcome {
        ScanOutcome::Scanned { payload } => code_scanned(model, payload),
        ScanOutcome::Cancelled => scan_cancelled(model),
        ScanOutcome::Unavailable => {
            model.charge = ChargeStep::Idle;
            model.alert = Some(Alert::new(messages::CAMERA_UNAVAILABLE));
            render()
        }
    }
}

pub fn scan_cancelled(model: &mut Model) -> Command<Effect, Event> {
    if matches!(model.charge, ChargeStep::Scanning { .. }) {
        model.charge = ChargeStep::Idle;
    }
    render()
}

/// The resident's code was read: this is the moment the charge is made.
pub fn code_scanned(model: &mut Model, payload: String) -> Command<Effect, Event> {
    let ChargeStep::Scanning { amount } = model.charge else {
        return render();
    };
    let request = StoreChargeRequest {
        payload: payload.trim().to_owned(),
        amount,
    };
    model.charge = ChargeStep::DrawingKey { request };
    render().and(
        Command::request_from_shell(RandomBytesRequest { len: KEY_BYTES })
            .then_send(|bytes| internal(Internal::ChargeKeyDrawn(bytes))),
    )
}

/// Keep the charge on the device first; it is sent once it is stored.
pub fn key_drawn(model: &mut Model, bytes: &[u8]) -> Command<Effect, Event> {
    let ChargeStep::DrawingKey { request } = std::mem::take(&mut model.charge) else {
        return Command::done();
    };
    if bytes.len() < KEY_BYTES as usize {
        model.alert = Some(Alert::new(messages::SOMETHING_WRONG));
        return render();
    }
    let pending = PendingCharge {
        idempotency_key: hex(bytes),
        request,
    };
    let key = pending.idempotency_key.clone();
    let save = cache::save_then(PENDING_CHARGE, &pending, move |stored| {
        internal(Internal::PendingChargeSaved { key, stored })
    });
    model.charge = ChargeStep::Confirming {
        amount: pending.request.amount,
    };
    model.pending = Some(pending);
    model.delivery = Default::default();
    render().and(save)
}

pub fn pending_saved(model: &mut Model, key: &str, stored: bool) -> Command<Effect, Event> {
    if !is_pending(model, key) {
        return Command::done();
    }
    if stored {
        return send(model);
    }
    model.pending = None;
    model.charge = ChargeStep::Idle;
    model.alert = Some(Alert::new(messages::CANNOT_SAVE));
    render()
}

fn is_pending(model: &Model, key: &str) -> bool {
    model
        .pending
        .as_ref()
        .is_some_and(|p| p.idempotency_key == key)
}

/// Send the pending charge (again): same key, same body.
fn send(model: &mut Model) -> Command<Effect, Event> {
    let Some(pending) = &model.pending else {
        return Command::done();
    };
    if model.delivery.in_flight {
        return Command::done();
    }
    model.delivery.in_flight = true;
    model.delivery.attempts += 1;
    let key = pending.idempotency_key.clone();
    Call::post(paths::STORE_CHARGES, &pending.request)
        .idempotency_key(&key)
        .send(model.connection().as_ref(), move |result| {
            internal(Internal::ChargeAnswered { key, result })
        })
}

/// At launch: a charge still waiting for its answer is shown and sent again.
pub fn resume_pending(model: &mut Model) -> Command<Effect, Event> {
    let Some(pending) = &model.pending else {
        return Command::done();
    };
    model.charge = ChargeStep::Confirming {
        amount: pending.request.amount,
    };
    send(model)
}

/// "もう一度ためす" while 確認中.
pub fn resend_now(model: &mut Model) -> Command<Effect, Event> {
    render().and(send(model))
}

pub fn retry_due(model: &mut Model, key: &str) -> Command<Effect, Event> {
    if !is_pending(model, key) {
        return Command::done();
    }
    send(model)
}

pub fn answered(
    model: &mut Model,
    key: &str,
    result: ApiResult<StoreChargeReceipt>,
) -> Command<Effect, Event> {
    if !is_pending(model, key) {
        return Command::done();
    }
    model.delivery.in_flight = false;
    match result {
        Ok(receipt) => charged(model, receipt),
        Err(error) if error.is_definite() => refused(model, &error),
        Err(_) => unanswered(model, key),
    }
}

fn charged(model: &mut Model, receipt: StoreChargeReceipt) -> Command<Effect, Event> {
    model.pending = None;
    model.delivery = Default::default();
    model.alert = None;
    model.amount_text.clear();
    model.charge = ChargeStep::Done { receipt };
    Command::all([
        cache::remove(PENDING_CHARGE),
        render(),
        sales::fetch_today(model),
    ])
}

/// The server said no: nothing was charged.
fn refused(model: &mut Model, error: &ApiError) -> Command<Effect, Event> {
    model.pending = None;
    model.delivery = Default::default();
    model.charge = ChargeStep::Idle;
    let forget = cache::remove(PENDING_CHARGE);
    if session::is_signed_out(error) {
        return forget.and(session::signed_out(model));
    }
    model.alert = Some(Alert::new(messages::for_error(error)));
    forget.and(render())
}

/// No answer, or the server could not answer: keep it, say 確認中, and send it again later.
fn unanswered(model: &mut Model, key: &str) -> Command<Effect, Event> {
    if model.alert.is_none() {
        model.alert = Some(Alert::with_retry(
            messages::CHARGE_UNANSWERED,
            Retry::SendCharge,
        ));
    }
    let doublings = model.delivery.attempts.saturating_sub(1).min(10);
    let wait = (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS);
    let key = key.to_owned();
    render().and(
        Command::request_from_shell(TimerRequest { millis: wait })
            .then_send(move |()| internal(Internal::ChargeRetryDue { key })),
    )
}

pub fn done_seen(model: &mut Model) -> Command<Effect, Event> {
    if matches!(model.charge, ChargeStep::Done { .. }) {
        model.charge = ChargeStep::Idle;
    }
    render()
}

#[cfg(test)]
mod tests {
    use crate::app::ScanOutcome;
    use crate::store::{
        ScreenView, TillView,
        testing::{Till, answer_json, charge_receipt, header, json_body, lost},
    };

    use super::*;

    const KEY: &str = "abababababababababababababababab";
    const CHARGES: &str = "/api/v1/store/charges";

    fn till_view(till: &Till) -> TillView {
        match till.view().screen {
            ScreenView::Till(view) => view,
            other => panic!("expected the till, got {other:?}"),
        }
    }

    fn alert(till: &Till) -> String {
        till.view().alert.expect("an alert").message
    }

    /// Type `amount`, scan `payload`, draw the key.
    fn charge(till: &mut Till, amount: &str, payload: &str) {
        till.send(Event::AmountEntered(amount.into()));
        till.send(Event::ScanTapped);
        let mut camera = till.take_camera();
        till.resolve(
            &mut camera,
            ScanOutcome::Scanned {
                payload: payload.into(),
            },
        );
        let mut random = till.take_random();
        till.resolve(&mut random, vec![0xab; 16]);
    }

    #[test]
    fn a_typed_amount_is_shown_as_an_amount_code_for_this_store() {
        let mut till = Till::signed_in();
        till.send(Event::AmountEntered("１，２００円".into()));
        till.send(Event::AmountCodeTapped);
        let ScreenView::AmountCode(code) = till.view().screen else {
            panic!("expected the amount code, got {:?}", till.view().screen);
        };
        assert_eq!(code.amount, "¥1,200");
        let read = qr::decode_merchant_code(&code.payload, "midori-2024").expect("decodes");
        assert_eq!((read.store_id, read.amount), (7, Some(Yen(1200))));
        till.send(Event::AmountCodeClosed);
        assert_eq!(till_view(&till).amount_text, "１，２００円");
    }

    #[test]
    fn an_amount_that_is_not_a_number_is_explained_and_nothing_is_shown() {
        let mut till = Till::signed_in();
        till.send(Event::AmountEntered("abc".into()));
        till.send(Event::AmountCodeTapped);
        assert!(matches!(till.view().screen, ScreenView::Till(_)));
        assert_eq!(alert(&till), messages::AMOUNT_INVALID);
        till.send(Event::ScanTapped);
        assert!(till.log.iter().all(|l| !l.contains(CHARGES)));
    }

    #[test]
    fn a_scanned_code_is_kept_before_it_is_charged_once() {
        let mut till = Till::signed_in();
        charge(&mut till, "1200", "CKR:resident-code");
        let kept = till
            .log
            .iter()
            .position(|l| l == "cache set store.pending_charge");
        let sent = till
            .log
            .iter()
            .position(|l| l == "http POST /api/v1/store/charges");
        assert!(kept.expect("kept") < sent.expect("sent"));
        assert_eq!(
            till_view(&till).charge.expect("charge").message,
            messages::CONFIRMING
        );

        let request = till.respond_to(CHARGES, answer_json(201, &charge_receipt(501, 1200)));
        assert_eq!(header(&request, "idempotency-key"), Some(KEY));
        assert_eq!(json_body(&request)["payload"], "CKR:resident-code");
        assert_eq!(json_body(&request)["amount"], 1200);
        let view = till_view(&till);
        let shown = view.charge.expect("charge");
        assert!(shown.done);
        assert_eq!(shown.message, "¥1,200 受け取りました");
        assert_eq!(view.amount_text, "");
        assert!(!till.cache.contains_key(PENDING_CHARGE));
        assert_eq!(till.requests_to("/api/v1/store/payments"), 1);
    }

    #[test]
    fn a_lost_answer_is_sent_again_with_the_same_key_and_body() {
        let mut till = Till::signed_in();
        charge(&mut till, "800", "CKR:code");
        let first = till.respond_to(CHARGES, lost());
        assert_eq!(alert(&till), messages::CHARGE_UNANSWERED);
        let mut timer = till.take_timer();
        assert_eq!(timer.operation.millis, 2_000);
        till.resolve(&mut timer, ());
        let second = till.respond_to(CHARGES, answer_json(201, &charge_receipt(9, 800)));
        assert_eq!(first.body, second.body);
        assert_eq!(header(&second, "idempotency-key"), Some(KEY));
        assert!(till_view(&till).charge.expect("charge").done);
    }

    #[test]
    fn a_charge_left_unanswered_is_sent_again_after_a_restart() {
        let mut till = Till::signed_in();
        charge(&mut till, "800", "CKR:code");
        let first = till.take_http(CHARGES).operation;
        let mut restarted = Till::with_cache(till.cache.clone());
        restarted.launch();
        let again = restarted.respond_to(CHARGES, answer_json(201, &charge_receipt(9, 800)));
        assert_eq!(first.body, again.body);
        assert_eq!(header(&again, "idempotency-key"), Some(KEY));
    }

    #[test]
    fn no_new_charge_starts_while_one_is_confirming() {
        let mut till = Till::signed_in();
        charge(&mut till, "800", "CKR:code");
        till.send(Event::ScanTapped);
        assert_eq!(alert(&till), messages::CHARGE_STILL_CONFIRMING);
    }

    #[test]
    fn a_device_that_cannot_keep_the_charge_does_not_send_it() {
        let mut till = Till::signed_in();
        till.cache_broken = true;
        charge(&mut till, "800", "CKR:code");
        assert_eq!(till.requests_to(CHARGES), 0);
        assert_eq!(alert(&till), messages::CANNOT_SAVE);
    }

    #[test]
    fn every_refusal_is_explained_in_plain_japanese_and_nothing_is_kept() {
        let cases = [
            (422, "resident_code_expired", "", messages::EXPIRED),
            (409, "resident_code_replayed", "", messages::REPLAYED),
            (
                422,
                "invalid_resident_code",
                "このQRコードはお支払いに使えません（署名が正しくありません）。 / Not a valid resident code: bad signature.",
                messages::TAMPERED,
            ),
            (
                422,
                "invalid_resident_code",
                "このQRコードはこの商品券のものではありません。 / The code's device is not known to this programme.",
                messages::WRONG_PROGRAMME,
            ),
            (422, "amount_too_large", "", messages::OVER_CAP),
            (403, "store_not_accepting", "", messages::STORE_SUSPENDED),
            (403, "forbidden", "", messages::STORE_SUSPENDED),
        ];
        for (status, code, server_words, expected) in cases {
            let mut till = Till::signed_in();
            charge(&mut till, "1200", "CKR:code");
            let body = serde_json::json!({ "error": code, "message": server_words });
            till.respond_to(CHARGES, answer_json(status, &body));
            assert_eq!(alert(&till), expected, "for {code}");
            assert!(!till.cache.contains_key(PENDING_CHARGE), "for {code}");
            assert_eq!(till_view(&till).charge, None, "for {code}");
        }
    }
}
