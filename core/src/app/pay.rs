//! Paying at a store: scan, check the store, amount, PIN, receipt.
//!
//! Exactly once: when the resident confirms with the PIN, the payment gets a random idempotency
//! key and is written to the cache *before* it is first sent. Until the server answers, it is
//! sent again with the same key and the same body — after a lost answer, after a restart — and
//! the server returns the one receipt. Only a definite refusal (4xx) ends it without a receipt.
//! Nothing is charged before the resident has seen the store's name and district.

use crux_core::Command;

use crate::{
    Yen,
    protocol::{ErrorCode, PaymentReceipt, PaymentRequest, StoreDetail, StoreStatus, paths},
};

use super::{
    Event, Internal,
    api::{ApiError, ApiResult, Call},
    cache, codes,
    effects::{
        Effect, Notification, RandomBytesRequest, ScanOutcome, ScanRequest, TimerRequest, render,
    },
    internal, messages,
    model::{Alert, Model, Order, PayStep, PendingPayment, Retry, ScannedCode, Screen, StoreLabel},
    refresh, text,
};

/// Bytes of randomness in an idempotency key (sent as 32 hex digits).
pub const KEY_BYTES: u32 = 16;
/// First wait before sending an unanswered payment again; doubled each time up to the maximum.
const FIRST_RETRY_MS: u64 = 2_000;
const MAX_RETRY_MS: u64 = 60_000;

pub fn start_scan(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    if model.pending.is_some() {
        return still_confirming(model);
    }
    model.screen = Screen::Pay;
    model.pay = PayStep::Scanning;
    model.alert = None;
    let scan = Command::request_from_shell(ScanRequest).then_send(|outcome| match outcome {
        ScanOutcome::Scanned { payload } => Event::CodeScanned(payload),
        ScanOutcome::Cancelled => Event::ScanCancelled,
        ScanOutcome::Unavailable => internal(Internal::CameraUnavailable),
    });
    render().and(scan)
}

fn still_confirming(model: &mut Model) -> Command<Effect, Event> {
    model.screen = Screen::Pay;
    model.alert = Some(Alert::new(messages::PAYMENT_STILL_CONFIRMING));
    render()
}

pub fn camera_unavailable(model: &mut Model) -> Command<Effect, Event> {
    end(
        model,
        Alert::with_retry(messages::CAMERA_UNAVAILABLE, Retry::Scan),
    )
}

pub fn cancel(model: &mut Model) -> Command<Effect, Event> {
    let confirmed = matches!(
        model.pay,
        PayStep::DrawingKey { .. } | PayStep::Confirming { .. }
    );
    if confirmed || model.pending.is_some() {
        return render();
    }
    model.pay = PayStep::Idle;
    model.screen = Screen::Home;
    render()
}

/// Stop this payment (nothing was charged) and tell the resident why.
fn end(model: &mut Model, alert: Alert) -> Command<Effect, Event> {
    model.pay = PayStep::Idle;
    model.screen = Screen::Home;
    model.alert = Some(alert);
    render()
}

pub fn code_scanned(model: &mut Model, payload: String) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    // A community points event code is claimed, not paid.
    if crate::qr::is_event_code(payload.trim()) && model.pending.is_none() {
        return super::points::code_scanned(model, payload);
    }
    if model.pending.is_some() {
        return still_confirming(model);
    }
    model.screen = Screen::Pay;
    model.pay = PayStep::CheckingCode { payload };
    if model.programme.is_some() {
        return programme_known(model);
    }
    render().and(refresh::fetch_programme(model))
}

/// The programme is known: a code that waited for it can be read now.
pub fn programme_known(model: &mut Model) -> Command<Effect, Event> {
    let (PayStep::CheckingCode { payload }, Some(programme)) = (&model.pay, &model.programme)
    else {
        return render();
    };
    match codes::read_store_code(payload, &programme.id) {
        Ok(code) => check_store(model, code),
        Err(message) => end(model, Alert::with_retry(message, Retry::Scan)),
    }
}

/// Find the store in the directory, or ask the server, before anything else.
fn check_store(model: &mut Model, code: ScannedCode) -> Command<Effect, Event> {
    if let Some(store) = model.directory.stores.get(&code.store_id) {
        let label = StoreLabel {
            store_id: store.id,
            name: store.name.clone(),
            district: store.district.clone(),
        };
        return enter_amount(model, &code, label);
    }
    let store_id = code.store_id;
    model.pay = PayStep::CheckingStore { code };
    render().and(
        Call::get(paths::store(store_id)).send(model.connection().as_ref(), move |result| {
            internal(Internal::StoreFetched { store_id, result })
        }),
    )
}

pub fn retry_store_lookup(model: &mut Model) -> Command<Effect, Event> {
    match &model.pay {
        PayStep::CheckingCode { payload } => {
            let payload = payload.clone();
            code_scanned(model, payload)
        }
        PayStep::CheckingStore { code } => {
            let code = code.clone();
            check_store(model, code)
        }
        _ => render(),
    }
}

pub fn store_fetched(
    model: &mut Model,
    store_id: i64,
    result: ApiResult<StoreDetail>,
) -> Command<Effect, Event> {
    let PayStep::CheckingStore { code } = &model.pay else {
        return Command::done();
    };
    if code.store_id != store_id {
        return Command::done();
    }
    let code = code.clone();
    match result {
        Ok(store) if store.status == StoreStatus::Approved => {
            let label = StoreLabel {
                store_id: store.id,
                name: store.name,
                district: store.district,
            };
            enter_amount(model, &code, label)
        }
        Ok(_) => end(model, Alert::new(messages::STORE_NOT_ACCEPTING)),
        Err(ApiError::Refused { status: 404, .. }) => end(
            model,
            Alert::with_retry(messages::STORE_NOT_FOUND, Retry::Scan),
        ),
        Err(error) => lookup_failed(model, &error),
    }
}

/// The programme or the store could not be looked up.
pub fn lookup_failed(model: &mut Model, error: &ApiError) -> Command<Effect, Event> {
    let message = messages::for_error(error);
    if messages::worth_retrying(error) {
        model.alert = Some(Alert::with_retry(message, Retry::StoreLookup));
        return render();
    }
    end(model, Alert::new(message))
}

fn enter_amount(
    model: &mut Model,
    code: &ScannedCode,
    store: StoreLabel,
) -> Command<Effect, Event> {
    model.pay = PayStep::EnteringAmount {
        order: Order {
            payload: code.payload.clone(),
            store,
            fixed_amount: code.amount,
            amount_text: code.amount.map(|a| a.get().to_string()).unwrap_or_default(),
            use_points: false,
        },
    };
    render()
}

pub fn amount_entered(model: &mut Model, text: String) -> Command<Effect, Event> {
    if let PayStep::EnteringAmount { order } = &mut model.pay
        && order.fixed_amount.is_none()
    {
        order.amount_text = text;
    }
    render()
}

pub fn use_points(model: &mut Model, on: bool) -> Command<Effect, Event> {
    if let PayStep::EnteringAmount { order } = &mut model.pay {
        order.use_points = on;
    }
    render()
}

/// The amount the order stands for, if it is a positive number of yen.
pub fn amount_of(order: &Order) -> Option<Yen> {
    if let Some(fixed) = order.fixed_amount {
        return Some(fixed);
    }
    let digits = text::digits(&order.amount_text)?;
    let yen = Yen(digits.parse().ok()?);
    yen.is_positive().then_some(yen)
}

pub fn amount_confirmed(model: &mut Model) -> Command<Effect, Event> {
    let PayStep::EnteringAmount { order } = &model.pay else {
        return render();
    };
    match amount_of(order) {
        Some(amount) => {
            model.pay = PayStep::EnteringPin {
                order: order.clone(),
                amount,
            };
            render()
        }
        None => {
            model.alert = Some(Alert::new(messages::AMOUNT_INVALID));
            render()
        }
    }
}

/// The resident confirmed: draw the idempotency key that makes this payment exactly once.
pub fn pin_entered(model: &mut Model, pin: String) -> Command<Effect, Event> {
    let PayStep::EnteringPin { order, amount } = &model.pay else {
        return render();
    };
    let Some(pin) = text::digits(&pin).filter(|p| (4..=6).contains(&p.len())) else {
        model.alert = Some(Alert::new(messages::PIN_FORMAT));
        return render();
    };
    let request = PaymentRequest {
        store_id: None,
        store_code: Some(order.payload.clone()),
        amount: *amount,
        pin,
        use_points: order.use_points.then_some(true),
    };
    model.pay = PayStep::DrawingKey {
        request,
        store: order.store.clone(),
        amount_fixed: order.fixed_amount.is_some(),
    };
    render().and(
        Command::request_from_shell(RandomBytesRequest { len: KEY_BYTES })
            .then_send(|bytes| internal(Internal::PaymentKeyDrawn(bytes))),
    )
}

/// Keep the payment on the phone first; it is sent once it is stored.
pub fn key_drawn(model: &mut Model, bytes: &[u8]) -> Command<Effect, Event> {
    let PayStep::DrawingKey {
        request,
        store,
        amount_fixed,
    } = std::mem::take(&mut model.pay)
    else {
        return Command::done();
    };
    if bytes.len() < KEY_BYTES as usize {
        return end(model, Alert::new(messages::SOMETHING_WRONG));
    }
    let pending = PendingPayment {
        idempotency_key: hex(bytes),
        request,
        store,
        amount_fixed,
    };
    let key = pending.idempotency_key.clone();
    let save = cache::save_then(cache::PENDING_PAYMENT, &pending, move |stored| {
        internal(Internal::PendingPaymentSaved { key, stored })
    });
    model.pay = confirming(&pending);
    model.pending = Some(pending);
    model.delivery = Default::default();
    render().and(save)
}

fn confirming(pending: &PendingPayment) -> PayStep {
    PayStep::Confirming {
        store: pending.store.clone(),
        amount: pending.request.amount,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn pending_saved(model: &mut Model, key: &str, stored: bool) -> Command<Effect, Event> {
    if !is_pending(model, key) {
        return Command::done();
    }
    if stored {
        return send(model);
    }
    model.pending = None;
    end(model, Alert::new(messages::CANNOT_SAVE))
}

fn is_pending(model: &Model, key: &str) -> bool {
    model
        .pending
        .as_ref()
        .is_some_and(|p| p.idempotency_key == key)
}

/// Send the pending payment (again): same key, same body.
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
    Call::post(paths::PAYMENTS, &pending.request)
        .idempotency_key(&key)
        .send(model.connection().as_ref(), move |result| {
            internal(Internal::PaymentAnswered { key, result })
        })
}

/// At start or refresh: a payment still waiting for its answer is shown and sent again.
pub fn resume_pending(model: &mut Model) -> Command<Effect, Event> {
    let Some(pending) = &model.pending else {
        return Command::done();
    };
    model.pay = confirming(pending);
    model.screen = Screen::Pay;
    render().and(send(model))
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
    result: ApiResult<PaymentReceipt>,
) -> Command<Effect, Event> {
    if !is_pending(model, key) {
        return Command::done();
    }
    model.delivery.in_flight = false;
    match result {
        Ok(receipt) => paid(model, receipt),
        Err(error) if error.is_definite() => refused(model, &error),
        Err(error) => unanswered(model, &error, key),
    }
}

fn paid(model: &mut Model, receipt: PaymentReceipt) -> Command<Effect, Event> {
    let after_retries = model.delivery.attempts > 1;
    model.pending = None;
    model.delivery = Default::default();
    model.offline = false;
    let notify = if after_retries {
        Command::notify_shell(Notification {
            title: messages::PAYMENT_DONE_TITLE.into(),
            body: format!("{} {}", receipt.store_name, receipt.amount),
        })
        .build()
    } else {
        Command::done()
    };
    if let Some(balance) = model.balance.as_mut() {
        balance.total = receipt.balance_after;
    }
    model.pay = PayStep::Done { receipt };
    model.alert = None;
    model.screen = Screen::Pay;
    Command::all([
        cache::remove(cache::PENDING_PAYMENT),
        render(),
        notify,
        refresh::fetch_balance(model),
        super::history::fetch_newest(model),
    ])
}

/// The server said no: nothing was charged. Go back to where the resident can put it right.
fn refused(model: &mut Model, error: &ApiError) -> Command<Effect, Event> {
    let Some(pending) = model.pending.take() else {
        return Command::done();
    };
    model.delivery = Default::default();
    let forget = cache::remove(cache::PENDING_PAYMENT);
    if refresh::is_signed_out(error) {
        return forget.and(refresh::signed_out(model));
    }
    let alert = Alert::new(messages::for_error(error));
    let order = order_of(&pending);
    let amount = pending.request.amount;
    model.pay = match error.code() {
        Some(ErrorCode::WrongPin) => PayStep::EnteringPin { order, amount },
        Some(
            ErrorCode::InsufficientBalance
            | ErrorCode::AmountTooLarge
            | ErrorCode::AmountNotPositive,
        ) => PayStep::EnteringAmount { order },
        _ => return forget.and(end(model, alert)),
    };
    model.screen = Screen::Pay;
    model.alert = Some(alert);
    forget.and(render())
}

fn order_of(pending: &PendingPayment) -> Order {
    let amount = pending.request.amount;
    Order {
        payload: pending.request.store_code.clone().unwrap_or_default(),
        store: pending.store.clone(),
        fixed_amount: pending.amount_fixed.then_some(amount),
        amount_text: amount.get().to_string(),
        use_points: pending.request.use_points.unwrap_or(false),
    }
}

/// No answer, or the server could not answer: keep it, say 確認中, and send it again later.
fn unanswered(model: &mut Model, error: &ApiError, key: &str) -> Command<Effect, Event> {
    model.offline = error.is_network();
    if model.alert.is_none() {
        model.alert = Some(Alert::with_retry(
            messages::PAYMENT_UNANSWERED,
            Retry::SendPayment,
        ));
    }
    let wait = retry_delay(model.delivery.attempts);
    let key = key.to_owned();
    let timer = Command::request_from_shell(TimerRequest { millis: wait })
        .then_send(move |()| internal(Internal::PaymentRetryDue { key }));
    render().and(timer)
}

fn retry_delay(attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(10);
    (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS)
}

#[cfg(test)]
mod tests {
    use crux_core::App as _;
    use crux_kv::{KeyValueOperation, KeyValueResponse, KeyValueResult, Value};
    use serde_json::json;

    use super::*;
    use crate::app::{
        PENDING_PAYMENT, PayView, ResidentApp, ScreenView,
        effects::{EffectTestExt as _, ScanOutcome},
        model::Session,
        testing::{
            Phone, SERVER, amount_code, answer, cached, header, json_body, lost,
            other_programmes_code, receipt, refusal, store_code,
        },
    };

    /// The key drawn from `[0xab; 16]`.
    const KEY: &str = "abababababababababababababababab";
    const PAYMENTS: &str = "/api/v1/payments";

    fn pay_view(phone: &Phone) -> PayView {
        match phone.view().screen {
            ScreenView::Pay(pay) => pay,
            other => panic!("expected the pay screen, got {other:?}"),
        }
    }

    fn alert_message(phone: &Phone) -> String {
        phone.view().alert.expect("an alert").message
    }

    fn scan(phone: &mut Phone, payload: String) {
        phone.send(Event::PayTapped);
        let mut camera = phone.take::<ScanRequest>();
        phone.resolve(&mut camera, ScanOutcome::Scanned { payload });
    }

    /// Amount, PIN, and the random bytes of the idempotency key.
    fn confirm(phone: &mut Phone, amount: &str, pin: &str) {
        phone.send(Event::AmountEntered(amount.into()));
        phone.send(Event::AmountConfirmed);
        phone.send(Event::PinEntered(pin.into()));
        let mut random = phone.take::<RandomBytesRequest>();
        assert_eq!(random.operation, RandomBytesRequest { len: 16 });
        phone.resolve(&mut random, vec![0xab; 16]);
    }

    fn is_confirming(phone: &Phone) -> bool {
        matches!(pay_view(phone), PayView::Confirming { message, .. } if message.contains("確認中"))
    }

    #[test]
    fn the_store_is_shown_from_the_directory_before_the_amount_and_the_pin() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));

        let PayView::Amount {
            store_name,
            district,
            amount_fixed,
            points_choice,
            can_continue,
            ..
        } = pay_view(&phone)
        else {
            panic!("expected the amount step, got {:?}", pay_view(&phone));
        };
        assert_eq!(store_name, "みどりベーカリー");
        assert_eq!(district, "大間々町");
        assert!(!amount_fixed);
        assert_eq!(
            points_choice.as_deref(),
            Some("ポイントを使う（1,200ポイント）")
        );
        assert!(!can_continue);
        assert_eq!(phone.requests_to(PAYMENTS), 0, "nothing is charged yet");

        phone.send(Event::AmountEntered("１，２００".into()));
        assert!(matches!(
            pay_view(&phone),
            PayView::Amount { amount: Some(a), can_continue: true, .. } if a == "¥1,200"
        ));
        phone.send(Event::AmountConfirmed);
        assert_eq!(
            pay_view(&phone),
            PayView::Pin {
                store_name: "みどりベーカリー".into(),
                district: "大間々町".into(),
                amount: "¥1,200".into(),
            }
        );
    }

    #[test]
    fn a_confirmed_payment_is_stored_before_it_is_sent_and_ends_in_a_receipt() {
        let mut phone = Phone::signed_in();
        let payload = store_code(7);
        scan(&mut phone, payload.clone());
        phone.send(Event::UsePointsChosen(true));
        confirm(&mut phone, "1200", "1234");

        assert!(is_confirming(&phone));
        let stored = cached(&phone.cache, PENDING_PAYMENT).expect("the pending payment is kept");
        assert_eq!(stored["idempotency_key"], KEY);
        let store_then_send = ["cache set pending_payment", "http POST /api/v1/payments"];
        assert!(
            phone.log.windows(2).any(|w| w == store_then_send),
            "{:?}",
            phone.log
        );

        let sent = phone.respond_to(PAYMENTS, answer(201, &receipt(1200, 5300)));
        assert_eq!(header(&sent, "Idempotency-Key"), Some(KEY));
        assert_eq!(
            header(&sent, "authorization"),
            Some("Bearer tok-resident-1")
        );
        assert_eq!(
            json_body(&sent),
            json!({ "store_code": payload, "amount": 1200, "pin": "1234", "use_points": true,
                    "store_id": null })
        );

        assert_eq!(
            pay_view(&phone),
            PayView::Receipt {
                store_name: "みどりベーカリー".into(),
                amount: "¥1,200".into(),
                paid_at: "2025年1月10日 12:05".into(),
                legs: vec![
                    crate::app::LegView {
                        label: "ポイント".into(),
                        amount: "¥200".into()
                    },
                    crate::app::LegView {
                        label: "プレミアム分".into(),
                        amount: "¥1,000".into()
                    },
                ],
                balance_after: "¥5,300".into(),
            }
        );
        assert!(!phone.cache.contains_key(PENDING_PAYMENT));
        assert!(
            phone.notifications.is_empty(),
            "the resident is looking at the receipt"
        );
        // The home screen catches up with the purses the payment drew on.
        phone.respond_to(
            "/api/v1/me/balance",
            answer(200, &crate::app::testing::balance(5300, 1000)),
        );
    }

    #[test]
    fn an_amount_code_fixes_the_amount() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, amount_code(7, 1500));
        phone.send(Event::AmountEntered("9999".into()));

        assert!(matches!(
            pay_view(&phone),
            PayView::Amount { amount_fixed: true, amount: Some(a), can_continue: true, .. }
                if a == "¥1,500"
        ));
        phone.send(Event::AmountConfirmed);
        phone.send(Event::PinEntered("1234".into()));
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xab; 16]);
        let sent = phone.respond_to(PAYMENTS, answer(201, &receipt(1500, 5000)));
        assert_eq!(json_body(&sent)["amount"], 1500);
    }

    #[test]
    fn a_lost_answer_is_sent_again_with_the_same_key_and_gives_one_receipt() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "1200", "1234");

        let first = phone.respond_to(PAYMENTS, lost());
        assert!(is_confirming(&phone), "確認中 while the answer is unknown");
        assert!(phone.view().offline_banner.is_some());
        assert!(phone.cache.contains_key(PENDING_PAYMENT));
        let alert = phone.view().alert.expect("the resident is told");
        assert_eq!(alert.message, messages::PAYMENT_UNANSWERED);

        let mut wait = phone.take::<TimerRequest>();
        assert_eq!(wait.operation, TimerRequest { millis: 2_000 });
        phone.resolve(&mut wait, ());

        let second = phone.respond_to(PAYMENTS, answer(201, &receipt(1200, 5300)));
        assert_eq!(header(&second, "Idempotency-Key"), Some(KEY));
        assert_eq!(second.body, first.body, "the very same request");
        assert!(matches!(pay_view(&phone), PayView::Receipt { .. }));
        assert_eq!(phone.view().alert, None);
        assert_eq!(phone.requests_to(PAYMENTS), 0);
        assert!(!phone.cache.contains_key(PENDING_PAYMENT));
        assert_eq!(phone.notifications.len(), 1);
        assert_eq!(phone.notifications[0].body, "みどりベーカリー ¥1,200");
    }

    #[test]
    fn after_a_restart_the_pending_payment_is_shown_and_sent_again_with_the_same_key() {
        let mut before = Phone::signed_in();
        scan(&mut before, store_code(7));
        confirm(&mut before, "1200", "1234");
        let first = before.take_http(PAYMENTS).operation;
        // The phone turns off before the answer arrives.

        let mut after = Phone::with_cache(before.cache.clone());
        after.launch();
        assert!(is_confirming(&after), "確認中 at once, from the cache");
        assert!(matches!(
            after.view().screen,
            ScreenView::Pay(PayView::Confirming { amount, .. }) if amount == "¥1,200"
        ));

        let again = after.respond_to(PAYMENTS, answer(201, &receipt(1200, 5300)));
        assert_eq!(header(&again, "Idempotency-Key"), Some(KEY));
        assert_eq!(again.body, first.body);
        assert!(matches!(pay_view(&after), PayView::Receipt { .. }));
        assert!(!after.cache.contains_key(PENDING_PAYMENT));
        assert_eq!(after.requests_to(PAYMENTS), 0, "one payment, one receipt");
    }

    #[test]
    fn a_busy_server_is_asked_again_later_with_the_same_key() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "800", "1234");
        phone.respond_to(PAYMENTS, refusal(503, "unavailable"));
        assert!(is_confirming(&phone));
        assert!(phone.has::<TimerRequest>());

        phone.send(Event::RetryTapped);
        phone.send(Event::RefreshRequested);
        assert_eq!(phone.requests_to(PAYMENTS), 1, "never two at once");
        let again = phone.respond_to(PAYMENTS, answer(201, &receipt(800, 5700)));
        assert_eq!(header(&again, "Idempotency-Key"), Some(KEY));
    }

    #[test]
    fn a_wrong_pin_is_explained_and_the_pin_can_be_entered_again() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "1200", "1111");
        phone.respond_to(
            PAYMENTS,
            answer(
                422,
                &json!({ "error": "wrong_pin", "message":
                    "暗証番号が違います。あと2回まちがえると、しばらく支払いができなくなります。 / Wrong PIN." }),
            ),
        );

        assert_eq!(
            alert_message(&phone),
            "暗証番号が違います。あと2回まちがえると、しばらく支払いができなくなります。"
        );
        assert!(matches!(pay_view(&phone), PayView::Pin { amount, .. } if amount == "¥1,200"));
        assert!(!phone.cache.contains_key(PENDING_PAYMENT));

        phone.send(Event::AlertDismissed);
        phone.send(Event::PinEntered("1234".into()));
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        let sent = phone.respond_to(PAYMENTS, answer(201, &receipt(1200, 5300)));
        assert_eq!(
            header(&sent, "Idempotency-Key"),
            Some("cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"),
            "a new attempt is a new payment"
        );
    }

    #[test]
    fn a_locked_pin_ends_the_payment_with_a_plain_message() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "1200", "1111");
        phone.respond_to(
            PAYMENTS,
            answer(423, &json!({ "error": "pin_locked", "message": "" })),
        );

        assert_eq!(
            alert_message(&phone),
            "暗証番号を何度もまちがえたため、お支払いを止めています。市役所の窓口にご相談ください。"
        );
        assert!(matches!(phone.view().screen, ScreenView::Home(_)));
        assert!(!phone.cache.contains_key(PENDING_PAYMENT));
    }

    #[test]
    fn insufficient_balance_goes_back_to_the_amount() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "9000", "1234");
        phone.respond_to(
            PAYMENTS,
            answer(
                422,
                &json!({ "error": "insufficient_balance", "message": "" }),
            ),
        );

        assert_eq!(
            alert_message(&phone),
            "残高が足りません。金額をお確かめください。"
        );
        assert!(matches!(
            pay_view(&phone),
            PayView::Amount { amount_text, amount_fixed: false, .. } if amount_text == "9000"
        ));
    }

    #[test]
    fn a_store_missing_from_the_directory_is_looked_up_before_anything_else() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(42));
        assert!(matches!(pay_view(&phone), PayView::Checking { .. }));

        let store = json!({
            "id": 42, "name": "笠懸食堂", "kana": "カサカケショクドウ", "romanised_name": "KASAKAKE",
            "industry": "restaurant", "district": "笠懸町", "address": "1-1",
            "postal_code": "379-2301", "status": "approved", "updated_at": "2025-01-01T00:00:00Z"
        });
        phone.respond_to("/api/v1/stores/42", answer(200, &store));
        assert!(matches!(
            pay_view(&phone),
            PayView::Amount { store_name, district, .. } if store_name == "笠懸食堂" && district == "笠懸町"
        ));
    }

    #[test]
    fn an_unknown_store_is_explained_and_nothing_is_charged() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(42));
        phone.respond_to("/api/v1/stores/42", refusal(404, "not_found"));

        assert_eq!(
            alert_message(&phone),
            "このお店は見つかりませんでした。お店の人にお確かめください。"
        );
        assert_eq!(phone.requests_to(PAYMENTS), 0);
    }

    #[test]
    fn a_code_that_is_not_a_payment_code_is_explained_and_can_be_scanned_again() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, "https://example.com/campaign".into());

        let alert = phone.view().alert.expect("an alert");
        assert_eq!(alert.message, "このQRコードはお支払いに使えません。");
        assert!(alert.retry_label.is_some());
        phone.send(Event::RetryTapped);
        assert!(phone.has::<ScanRequest>(), "the camera opens again");
    }

    #[test]
    fn a_code_of_another_programme_is_refused_before_anything_is_charged() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, other_programmes_code("kiryu-2025", 7));
        assert_eq!(
            alert_message(&phone),
            "このQRコードは別の商品券のものです。このアプリでは使えません。"
        );
        assert_eq!(phone.requests_to(PAYMENTS), 0);
    }

    #[test]
    fn a_payment_that_cannot_be_kept_on_the_phone_is_not_sent() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        phone.cache_broken = true;
        confirm(&mut phone, "1200", "1234");

        assert_eq!(alert_message(&phone), messages::CANNOT_SAVE);
        assert_eq!(phone.requests_to(PAYMENTS), 0);
    }

    #[test]
    fn a_second_payment_waits_for_the_first_to_be_confirmed() {
        let mut phone = Phone::signed_in();
        scan(&mut phone, store_code(7));
        confirm(&mut phone, "1200", "1234");
        phone.send(Event::HomeOpened);
        phone.send(Event::PayTapped);

        assert_eq!(alert_message(&phone), messages::PAYMENT_STILL_CONFIRMING);
        assert!(!phone.has::<ScanRequest>());
        phone.send(Event::LogoutTapped);
        assert!(
            phone.cache.contains_key(PENDING_PAYMENT),
            "logout waits too"
        );
    }

    /// The same journey one update at a time, as crux's own tests read.
    #[test]
    fn confirming_draws_a_key_then_stores_the_payment_then_sends_it() {
        let app = ResidentApp;
        let mut model = Model {
            server: crux_http::Url::parse(SERVER).ok(),
            session: Some(Session {
                token: "tok".into(),
                device_id: 1,
                resident_id: Some(1),
                display_name: "山田 花子".into(),
            }),
            pay: PayStep::EnteringPin {
                order: Order {
                    payload: "00020101021127...".into(),
                    store: StoreLabel {
                        store_id: 7,
                        name: "みどりベーカリー".into(),
                        district: "大間々町".into(),
                    },
                    fixed_amount: None,
                    amount_text: "500".into(),
                    use_points: false,
                },
                amount: Yen(500),
            },
            ..Model::default()
        };

        let drawn = app
            .update(Event::PinEntered("1234".into()), &mut model)
            .expect_render()
            .resolve_random(|_| vec![1; 16])
            .expect_one_event();

        let mut saving = app.update(drawn, &mut model);
        let saved = saving
            .expect_render()
            .resolve_cache(|op| {
                assert!(matches!(op, KeyValueOperation::Set { key, .. } if key == PENDING_PAYMENT));
                KeyValueResult::Ok {
                    response: KeyValueResponse::Set {
                        previous: Value::None,
                    },
                }
            })
            .expect_one_event();

        app.update(saved, &mut model)
            .expect_only_http_with(|request| {
                assert_eq!(request.method, "POST");
                assert_eq!(request.url, format!("{SERVER}/api/v1/payments"));
                assert_eq!(
                    header(request, "idempotency-key"),
                    Some("01010101010101010101010101010101")
                );
            });

        let late = Event::Internal(Internal::PaymentKeyDrawn(vec![2; 16]));
        app.update(late, &mut model).expect_done();
    }
}
