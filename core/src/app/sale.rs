//! The premium set sale (issue 5): apply for sets, change or withdraw while the application
//! window is open, see the lottery's result and how and by when to pay, and take what is left
//! in the additional sale.
//!
//! The server decides everything (windows, limits, what is left); the app asks and shows.
//! An additional-sale order is exactly once: its idempotency key is drawn when the resident
//! confirms, the order is written to the cache before it is first sent, and every repeat — after
//! a lost answer, a busy server, another tap, a restart — carries the same key and body until
//! the server decides.

use crux_core::Command;

use crate::{
    protocol::{
        ApplicationRequest, ErrorCode, MySale, OrderRequest, SaleApplication, SaleOrder, paths,
    },
    time::format_date,
};

use super::{
    Event, Internal,
    api::{ApiError, ApiResult, Call},
    cache,
    effects::{Effect, RandomBytesRequest, render},
    internal, messages,
    model::{Alert, Model, PendingSaleOrder, Retry, SaleAction, Screen},
    pay, refresh,
};

pub fn open(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    model.screen = Screen::Sale;
    model.sale.notice = None;
    render().and(fetch(model))
}

/// Ask the server where the sale stands for this resident.
pub fn fetch(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return Command::done();
    }
    if model.sale.loading {
        model.sale.ask_again = true;
        return Command::done();
    }
    model.sale.loading = true;
    Call::get(paths::ME_SALE).send(model.connection().as_ref(), |result| {
        internal(Internal::SaleFetched(result))
    })
}

pub fn fetched(model: &mut Model, result: ApiResult<MySale>) -> Command<Effect, Event> {
    model.sale.loading = false;
    if std::mem::take(&mut model.sale.ask_again) {
        // Asked before the last change went through: ask again rather than show the past.
        return fetch(model);
    }
    match result {
        Ok(info) => {
            model.offline = false;
            model.sale.info = Some(info);
            render()
        }
        Err(error) => refresh::failed(model, &error, Retry::Refresh),
    }
}

/// The sets picked on the screen. Any number is kept: the server says plainly what is allowed.
pub fn choose(model: &mut Model, sets: i64) -> Command<Effect, Event> {
    model.sale.chosen = Some(sets);
    render()
}

/// The sets the next application or order is for.
pub fn chosen_sets(model: &Model) -> i64 {
    model
        .sale
        .chosen
        .or_else(|| {
            let info = model.sale.info.as_ref()?;
            info.application.as_ref().map(|a| a.sets)
        })
        .unwrap_or(1)
}

pub fn apply(model: &mut Model) -> Command<Effect, Event> {
    let sets = chosen_sets(model);
    send_action(model, SaleAction::Apply { sets })
}

pub fn withdraw(model: &mut Model) -> Command<Effect, Event> {
    send_action(model, SaleAction::Withdraw)
}

/// "もう一度ためす" after an application change or withdrawal that got no decision.
pub fn retry_action(model: &mut Model) -> Command<Effect, Event> {
    match model.sale.sending {
        Some(action) => send_action(model, action),
        None => render(),
    }
}

fn send_action(model: &mut Model, action: SaleAction) -> Command<Effect, Event> {
    if !model.signed_in() || model.sale.in_flight {
        return render();
    }
    model.sale.sending = Some(action);
    model.sale.in_flight = true;
    model.sale.notice = None;
    let connection = model.connection();
    let send = match action {
        // PUT states the whole application: sending it again changes nothing more.
        SaleAction::Apply { sets } => {
            Call::put(paths::ME_SALE_APPLICATION, &ApplicationRequest { sets })
                .send(connection.as_ref(), |result| {
                    internal(Internal::SaleApplied(result))
                })
        }
        SaleAction::Withdraw => Call::delete(paths::ME_SALE_APPLICATION)
            .send_expecting_nothing(connection.as_ref(), |result| {
                internal(Internal::SaleWithdrawn(result))
            }),
    };
    render().and(send)
}

pub fn applied(model: &mut Model, result: ApiResult<SaleApplication>) -> Command<Effect, Event> {
    model.sale.in_flight = false;
    match result {
        Ok(application) => {
            let changed = model
                .sale
                .info
                .as_ref()
                .is_some_and(|info| info.application.is_some());
            model.sale.notice = Some(if changed {
                format!("お申し込みを{}セットに変更しました。", application.sets)
            } else {
                format!("{}セットのお申し込みを受け付けました。", application.sets)
            });
            model.sale.chosen = Some(application.sets);
            if let Some(info) = model.sale.info.as_mut() {
                info.application = Some(application);
            }
            decided(model)
        }
        Err(error) => failed(model, &error, Retry::SaleApplication),
    }
}

pub fn withdrawn(model: &mut Model, result: ApiResult<()>) -> Command<Effect, Event> {
    model.sale.in_flight = false;
    match result {
        // A repeat after a lost answer finds nothing left to withdraw: the first one went through.
        Ok(())
        | Err(ApiError::Refused {
            code: ErrorCode::NoApplication,
            ..
        }) => {
            model.sale.notice = Some("お申し込みを取り消しました。".into());
            model.sale.chosen = None;
            if let Some(info) = model.sale.info.as_mut() {
                info.application = None;
            }
            decided(model)
        }
        Err(error) => failed(model, &error, Retry::SaleApplication),
    }
}

/// The server decided: nothing is left to repeat; show the sale as it is now.
fn decided(model: &mut Model) -> Command<Effect, Event> {
    model.sale.sending = None;
    model.offline = false;
    model.alert = None;
    render().and(fetch(model))
}

/// The resident confirmed sets in the additional sale (or tapped again while it is unanswered).
pub fn buy(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    if model.sale.order.is_some() {
        // Already confirmed: the same order again, never a second one.
        return render().and(send_order(model));
    }
    model.sale.order = Some(PendingSaleOrder {
        sets: chosen_sets(model),
        idempotency_key: None,
        in_flight: false,
    });
    model.sale.notice = None;
    render().and(
        Command::request_from_shell(RandomBytesRequest {
            len: pay::KEY_BYTES,
        })
        .then_send(|bytes| internal(Internal::SaleOrderKeyDrawn(bytes))),
    )
}

pub fn order_key_drawn(model: &mut Model, bytes: &[u8]) -> Command<Effect, Event> {
    let Some(order) = model.sale.order.as_mut() else {
        return Command::done();
    };
    if order.idempotency_key.is_some() {
        return Command::done();
    }
    if bytes.len() < pay::KEY_BYTES as usize {
        model.sale.order = None;
        model.alert = Some(Alert::new(messages::SOMETHING_WRONG));
        return render();
    }
    let key = pay::hex(bytes);
    order.idempotency_key = Some(key.clone());
    // Kept on the phone first: a restart then repeats this order rather than making another.
    let save = cache::save_then(cache::PENDING_SALE_ORDER, &*order, move |stored| {
        internal(Internal::SaleOrderSaved { key, stored })
    });
    render().and(save)
}

pub fn order_saved(model: &mut Model, key: &str, stored: bool) -> Command<Effect, Event> {
    if !is_current_order(model, key) {
        return Command::done();
    }
    if stored {
        return send_order(model);
    }
    model.sale.order = None;
    model.alert = Some(Alert::new(messages::SALE_CANNOT_SAVE));
    render()
}

fn is_current_order(model: &Model, key: &str) -> bool {
    model
        .sale
        .order
        .as_ref()
        .is_some_and(|order| order.idempotency_key.as_deref() == Some(key))
}

/// At start or refresh: an order the server has not decided is sent again, as it was.
pub fn resume_order(model: &mut Model) -> Command<Effect, Event> {
    send_order(model)
}

/// "もう一度ためす" for an unanswered order: same key, same body.
pub fn resend_order(model: &mut Model) -> Command<Effect, Event> {
    render().and(send_order(model))
}

fn send_order(model: &mut Model) -> Command<Effect, Event> {
    let connection = model.connection();
    let Some(order) = model.sale.order.as_mut() else {
        return Command::done();
    };
    let Some(key) = order.idempotency_key.clone() else {
        return Command::done();
    };
    if order.in_flight {
        return Command::done();
    }
    order.in_flight = true;
    Call::post(paths::SALE_ORDERS, &OrderRequest { sets: order.sets })
        .idempotency_key(&key)
        .send(connection.as_ref(), move |result| {
            internal(Internal::SaleOrderAnswered { key, result })
        })
}

pub fn order_answered(
    model: &mut Model,
    key: &str,
    result: ApiResult<SaleOrder>,
) -> Command<Effect, Event> {
    if !is_current_order(model, key) {
        return Command::done();
    }
    if let Some(order) = model.sale.order.as_mut() {
        order.in_flight = false;
    }
    match result {
        Ok(taken) => {
            model.sale.order = None;
            model.sale.chosen = None;
            model.sale.notice = Some(format!(
                "{}セットのお申し込みを受け付けました。{}をお支払いください（{}）。",
                taken.sets,
                taken.amount,
                crate::app::sale_view::deadline(taken.pay_by)
            ));
            cache::remove(cache::PENDING_SALE_ORDER).and(decided(model))
        }
        Err(error) if error.is_definite() => {
            model.sale.order = None;
            cache::remove(cache::PENDING_SALE_ORDER).and(failed(model, &error, Retry::SaleOrder))
        }
        Err(error) => failed(model, &error, Retry::SaleOrder),
    }
}

/// A sale request failed. A refusal is final (what the server said, and the sale as it is now);
/// anything else keeps the request for "もう一度ためす".
fn failed(model: &mut Model, error: &ApiError, retry: Retry) -> Command<Effect, Event> {
    if refresh::is_signed_out(error) {
        model.sale.sending = None;
        return refresh::signed_out(model);
    }
    if error.is_definite() {
        model.sale.sending = None;
        model.alert = Some(Alert::new(refusal_message(model, error)));
        return render().and(fetch(model));
    }
    model.offline = error.is_network();
    model.alert = Some(Alert::with_retry(messages::for_error(error), retry));
    render()
}

/// Outside the window, the app names the window itself (from what the server last said).
fn refusal_message(model: &Model, error: &ApiError) -> String {
    match (error.code(), model.sale.info.as_ref()) {
        (Some(ErrorCode::ApplicationWindowClosed), Some(info)) => format!(
            "申込期間（{}〜{}）ではないため、申込・変更・取消はできません。",
            format_date(info.application_window.first_day),
            format_date(info.application_window.last_day)
        ),
        _ => messages::for_error(error),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::app::{
        Event, PENDING_SALE_ORDER, SESSION, SaleView, ScreenView,
        effects::RandomBytesRequest,
        testing::{
            Phone, answer, bakery, balance, cache_of, cached, header, json_body, lost, refusal,
            session,
        },
    };

    const ME_SALE: &str = "/api/v1/me/sale";
    const APPLICATION: &str = "/api/v1/me/sale/application";
    const ORDERS: &str = "/api/v1/sale/orders";
    /// The key drawn from `[0xcd; 16]`.
    const KEY: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

    /// `GET /api/v1/me/sale` in `phase`, Midori's 2024 dates.
    fn my_sale(phase: &str) -> Value {
        json!({
            "programme": "midori-2024",
            "phase": phase,
            "application_window": { "first_day": "2024-10-01", "last_day": "2024-10-21" },
            "sale_window": { "first_day": "2024-11-01", "last_day": "2024-12-31" },
            "set_price": 5000,
            "set_value": 6500,
            "limit_per_resident": 2,
            "winners_pay_by": "2024-11-30T15:00:00Z",
            "application": null,
            "result": null,
            "orders": [],
            "sets_held": 0,
            "additional_sale": {
                "opens_at": "2024-11-30T15:00:00Z",
                "closes_at": "2024-12-31T15:00:00Z"
            }
        })
    }

    fn applied(sets: i64) -> Value {
        json!({ "sets": sets, "pseudonym": "a1b2c3", "updated_at": "2024-10-05T01:00:00Z" })
    }

    fn with_application(mut sale: Value, sets: i64) -> Value {
        sale["application"] = applied(sets);
        sale
    }

    fn due_order(id: i64, channel: &str, sets: i64, pay_by: &str) -> Value {
        json!({
            "order_id": id, "channel": channel, "sets": sets,
            "amount": 5000 * sets, "value": 6500 * sets, "status": "due",
            "pay_by": pay_by, "payment_methods": ["counter", "provider"],
            "created_at": "2024-11-01T00:00:00Z"
        })
    }

    fn additional_sale(remaining: i64, sets_held: i64) -> Value {
        let mut sale = my_sale("additional_sale");
        sale["additional_sale"]["remaining"] = json!(remaining);
        sale["sets_held"] = json!(sets_held);
        sale
    }

    fn sale_view(phone: &Phone) -> SaleView {
        match phone.view().screen {
            ScreenView::Sale(view) => *view,
            other => panic!("expected the sale screen, got {other:?}"),
        }
    }

    fn alert(phone: &Phone) -> String {
        phone.view().alert.expect("an alert").message
    }

    /// A signed-in phone on the sale screen, the server having said `sale`.
    fn on_sale_screen(sale: &Value) -> Phone {
        let mut phone = Phone::signed_in();
        phone.send(Event::SaleOpened);
        assert!(sale_view(&phone).loading.is_some());
        phone.respond_to(ME_SALE, answer(200, sale));
        phone
    }

    #[test]
    fn applying_sends_the_chosen_sets_and_shows_the_application() {
        let mut phone = on_sale_screen(&my_sale("applications_open"));
        let view = sale_view(&phone);
        assert_eq!(
            view.status.as_deref(),
            Some(
                "お申し込みを受け付けています（2024年10月21日まで）。期間中は何度でも変更や取り消しができます。"
            )
        );
        assert_eq!(view.schedule[0].label, "申込期間");
        assert_eq!(view.schedule[0].dates, "2024年10月1日〜2024年10月21日");
        assert_eq!(view.schedule[1].dates, "2024年11月1日〜2024年11月30日");
        assert_eq!(view.schedule[2].dates, "2024年12月1日〜2024年12月31日");
        assert_eq!(view.application, None);
        assert_eq!(view.withdraw_label, None);
        assert_eq!(view.apply_label.as_deref(), Some("この内容で申し込む"));
        let labels: Vec<_> = view.set_choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "1セット（お支払い ¥5,000、¥6,500分）",
                "2セット（お支払い ¥10,000、¥13,000分）"
            ]
        );
        assert!(view.set_choices[0].selected);

        phone.send(Event::SetsChosen(2));
        assert!(sale_view(&phone).set_choices[1].selected);
        phone.send(Event::ApplySubmitted);
        assert!(sale_view(&phone).busy.is_some());
        let sent = phone.respond_to(APPLICATION, answer(200, &applied(2)));
        assert_eq!(sent.method, "PUT");
        assert_eq!(json_body(&sent), json!({ "sets": 2 }));

        let view = sale_view(&phone);
        assert_eq!(
            view.notice.as_deref(),
            Some("2セットのお申し込みを受け付けました。")
        );
        assert_eq!(view.busy, None);
        assert_eq!(
            view.application.as_deref(),
            Some("2セット（お支払い ¥10,000、¥13,000分）を申し込んでいます。")
        );
        assert_eq!(view.apply_label.as_deref(), Some("この内容に変更する"));
        assert_eq!(view.withdraw_label.as_deref(), Some("お申し込みを取り消す"));
        // The app asks again, to show the sale as the server now has it.
        phone.respond_to(
            ME_SALE,
            answer(200, &with_application(my_sale("applications_open"), 2)),
        );
        assert!(sale_view(&phone).set_choices[1].selected);
    }

    #[test]
    fn changing_an_application_starts_from_the_current_one() {
        let mut phone = on_sale_screen(&with_application(my_sale("applications_open"), 2));
        assert!(
            sale_view(&phone).set_choices[1].selected,
            "2 sets applied for"
        );

        phone.send(Event::SetsChosen(1));
        phone.send(Event::ApplySubmitted);
        let sent = phone.respond_to(APPLICATION, answer(200, &applied(1)));
        assert_eq!(json_body(&sent), json!({ "sets": 1 }));
        assert_eq!(
            sale_view(&phone).notice.as_deref(),
            Some("お申し込みを1セットに変更しました。")
        );
    }

    #[test]
    fn a_change_whose_answer_was_lost_is_sent_again_as_it_was() {
        let mut phone = on_sale_screen(&with_application(my_sale("applications_open"), 2));
        phone.send(Event::SetsChosen(1));
        phone.send(Event::ApplySubmitted);
        phone.respond_to(APPLICATION, lost());
        let message = phone.view().alert.expect("an alert");
        assert_eq!(message.retry_label.as_deref(), Some("もう一度ためす"));

        phone.send(Event::SetsChosen(2)); // the resident fiddles while offline
        phone.send(Event::RetryTapped);
        let sent = phone.respond_to(APPLICATION, answer(200, &applied(1)));
        assert_eq!(json_body(&sent), json!({ "sets": 1 }));
    }

    #[test]
    fn an_answer_asked_for_before_the_application_went_through_is_not_shown() {
        let mut phone = Phone::signed_in();
        phone.send(Event::SaleOpened);
        phone.send(Event::ApplySubmitted);
        phone.respond_to(APPLICATION, answer(200, &applied(1)));
        // The first answer left the server before the application was made.
        phone.respond_to(ME_SALE, answer(200, &my_sale("applications_open")));
        assert_eq!(phone.requests_to(ME_SALE), 1, "asked again");
        phone.respond_to(
            ME_SALE,
            answer(200, &with_application(my_sale("applications_open"), 1)),
        );
        assert!(sale_view(&phone).application.is_some());
    }

    #[test]
    fn withdrawing_removes_the_application() {
        let mut phone = on_sale_screen(&with_application(my_sale("applications_open"), 1));
        phone.send(Event::WithdrawTapped);
        let sent = phone.take_http(APPLICATION);
        assert_eq!(sent.operation.method, "DELETE");
        let mut request = sent;
        phone.resolve(
            &mut request,
            crux_http::protocol::HttpResult::Ok(
                crux_http::protocol::HttpResponse::status(204).build(),
            ),
        );

        let view = sale_view(&phone);
        assert_eq!(view.notice.as_deref(), Some("お申し込みを取り消しました。"));
        assert_eq!(view.application, None);
        assert_eq!(view.withdraw_label, None);
        assert_eq!(phone.view().alert, None);
    }

    #[test]
    fn a_withdrawal_repeated_after_a_lost_answer_is_not_an_error() {
        let mut phone = on_sale_screen(&with_application(my_sale("applications_open"), 1));
        phone.send(Event::WithdrawTapped);
        phone.respond_to(APPLICATION, lost());
        phone.send(Event::RetryTapped);
        phone.respond_to(APPLICATION, refusal(404, "no_application"));
        assert_eq!(phone.view().alert, None);
        assert_eq!(
            sale_view(&phone).notice.as_deref(),
            Some("お申し込みを取り消しました。")
        );
    }

    #[test]
    fn applying_outside_the_window_names_the_window() {
        let mut phone = on_sale_screen(&my_sale("awaiting_draw"));
        let view = sale_view(&phone);
        assert_eq!(view.apply_label, None, "no button outside the window");
        assert!(view.set_choices.is_empty());

        // A stale screen (or the terminal wallet) still asks; the server refuses.
        phone.send(Event::ApplySubmitted);
        phone.respond_to(APPLICATION, refusal(422, "application_window_closed"));
        assert_eq!(
            alert(&phone),
            "申込期間（2024年10月1日〜2024年10月21日）ではないため、申込・変更・取消はできません。"
        );
        assert_eq!(
            phone.view().alert.and_then(|a| a.retry_label),
            None,
            "asking again will not help"
        );
        assert_eq!(
            phone.requests_to(ME_SALE),
            1,
            "the sale is shown as it is now"
        );
    }

    #[test]
    fn too_many_sets_are_refused_in_the_servers_words() {
        let mut phone = on_sale_screen(&my_sale("applications_open"));
        phone.send(Event::SetsChosen(3));
        phone.send(Event::ApplySubmitted);
        phone.respond_to(
            APPLICATION,
            answer(
                422,
                &json!({ "error": "sets_out_of_range",
                         "message": "お申し込みできるのは1〜2セットです。 / Sets must be 1 to 2." }),
            ),
        );
        assert_eq!(alert(&phone), "お申し込みできるのは1〜2セットです。");
    }

    #[test]
    fn the_result_shows_what_was_won_what_to_pay_how_and_by_when() {
        let mut sale = with_application(my_sale("winners_paying"), 2);
        sale["result"] = json!({ "requested": 2, "won": 1 });
        sale["orders"] = json!([due_order(41, "lottery", 1, "2024-11-30T15:00:00Z")]);
        sale["sets_held"] = json!(1);
        let phone = on_sale_screen(&sale);

        let view = sale_view(&phone);
        assert_eq!(
            view.result.as_deref(),
            Some("抽選の結果、2セットのうち1セットが当選しました。")
        );
        assert_eq!(
            view.application.as_deref(),
            Some("お申し込み: 2セット（お支払い ¥10,000、¥13,000分）")
        );
        assert_eq!(
            view.status.as_deref(),
            Some("抽選が終わりました。当選した方は2024年11月30日までにお支払いください。")
        );
        let order = &view.orders[0];
        assert_eq!(order.title, "当選分 1セット");
        assert_eq!(order.amount, "¥5,000（¥6,500分の商品券になります）");
        assert_eq!(order.status, "お支払い待ち");
        assert_eq!(order.deadline.as_deref(), Some("2024年11月30日まで"));
        assert_eq!(
            order.how_to_pay,
            [
                "市役所・各支所の窓口で現金で（お申し込み番号 41 をお伝えください）",
                "オンライン決済で（お申し込み番号 41 を入力してください）"
            ]
        );
        assert_eq!(
            view.held.as_deref(),
            Some("お持ちのセット 1セット（お一人2セットまで）")
        );
        assert_eq!(
            view.additional.as_deref(),
            Some("残ったセットは2024年12月1日から先着順で販売します。")
        );
        assert_eq!(view.buy_label, None);
    }

    #[test]
    fn a_paid_order_says_the_sets_are_in_the_balance() {
        let mut sale = my_sale("winners_paying");
        sale["result"] = json!({ "requested": 1, "won": 1 });
        let mut paid = due_order(41, "lottery", 1, "2024-11-30T15:00:00Z");
        paid["status"] = json!("paid");
        paid["paid_at"] = json!("2024-11-05T01:30:00Z");
        sale["orders"] = json!([paid]);
        let phone = on_sale_screen(&sale);

        let view = sale_view(&phone);
        assert_eq!(
            view.result.as_deref(),
            Some("抽選の結果、1セットが当選しました。")
        );
        let order = &view.orders[0];
        assert_eq!(order.status, "お支払い済み（商品券は残高に入っています）");
        assert_eq!(order.paid_at.as_deref(), Some("2024年11月5日 10:30"));
        assert_eq!(order.deadline, None);
        assert!(order.how_to_pay.is_empty());
    }

    #[test]
    fn an_additional_purchase_is_taken_exactly_once_across_lost_answers() {
        let mut phone = on_sale_screen(&additional_sale(100, 1));
        let view = sale_view(&phone);
        assert_eq!(
            view.additional.as_deref(),
            Some("先着順で販売中です（残り100セット）。")
        );
        assert_eq!(
            view.set_choices.len(),
            1,
            "one more set under the limit of 2"
        );
        assert_eq!(view.buy_label.as_deref(), Some("先着順で購入を申し込む"));

        phone.send(Event::AdditionalPurchaseTapped);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        let stored_at = phone
            .log
            .iter()
            .position(|l| l == "cache set pending_sale_order");
        let sent_at = phone
            .log
            .iter()
            .position(|l| l == "http POST /api/v1/sale/orders");
        assert!(
            stored_at < sent_at,
            "kept on the phone before it leaves: {:?}",
            phone.log
        );
        let first = phone.respond_to(ORDERS, lost());
        assert_eq!(header(&first, "idempotency-key"), Some(KEY));
        assert!(sale_view(&phone).busy.is_some_and(|b| b.contains("確認中")));

        // "もう一度ためす", and an impatient second tap: the same order, never a new one.
        phone.send(Event::RetryTapped);
        phone.send(Event::AdditionalPurchaseTapped);
        assert_eq!(phone.requests_to(ORDERS), 1, "one request at a time");
        assert!(!phone.has::<RandomBytesRequest>(), "no second key");
        let second = phone.respond_to(ORDERS, refusal(503, "sale_busy"));
        phone.send(Event::AdditionalPurchaseTapped);
        let mut order = due_order(57, "additional", 1, "2024-12-10T05:00:00Z");
        order["status"] = json!("due");
        let third = phone.respond_to(ORDERS, answer(201, &order));
        for sent in [&second, &third] {
            assert_eq!(header(sent, "idempotency-key"), Some(KEY));
            assert_eq!(json_body(sent), json_body(&first));
        }
        assert_eq!(json_body(&first), json!({ "sets": 1 }));

        let view = sale_view(&phone);
        assert_eq!(
            view.notice.as_deref(),
            Some(
                "1セットのお申し込みを受け付けました。¥5,000をお支払いください（2024年12月10日 14:00まで）。"
            )
        );
        assert_eq!(view.busy, None);
        assert_eq!(phone.view().alert, None);
        assert!(
            !phone.cache.contains_key(PENDING_SALE_ORDER),
            "decided: forgotten"
        );

        // A later purchase is a new order with a new key.
        phone.respond_to(ME_SALE, answer(200, &additional_sale(99, 1)));
        phone.send(Event::AdditionalPurchaseTapped);
        assert!(phone.has::<RandomBytesRequest>());
    }

    #[test]
    fn an_order_whose_answer_was_lost_is_repeated_after_a_restart_with_its_key() {
        let mut phone = on_sale_screen(&additional_sale(100, 0));
        phone.send(Event::SetsChosen(2));
        phone.send(Event::AdditionalPurchaseTapped);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        phone.respond_to(ORDERS, lost());
        let kept = cached(&phone.cache, PENDING_SALE_ORDER).expect("kept on the phone");
        assert_eq!(kept["idempotency_key"], KEY);

        // The app is closed and opened again (on the home screen).
        let mut again = Phone::with_cache(phone.cache.clone());
        again.launch();
        again.answer_refresh(&balance(6500, 0), &[bakery()]);
        let sent = again.respond_to(
            ORDERS,
            answer(201, &due_order(57, "additional", 2, "2024-12-10T05:00:00Z")),
        );
        assert_eq!(header(&sent, "idempotency-key"), Some(KEY));
        assert_eq!(json_body(&sent), json!({ "sets": 2 }));
        assert!(!again.cache.contains_key(PENDING_SALE_ORDER));
        assert!(again.cache.contains_key(SESSION));
    }

    #[test]
    fn logging_out_forgets_an_undecided_order() {
        let mut phone = Phone::with_cache(cache_of(&[
            (SESSION, session()),
            (
                PENDING_SALE_ORDER,
                json!({ "sets": 1, "idempotency_key": KEY }),
            ),
        ]));
        phone.launch();
        phone.send(Event::LogoutTapped);
        assert!(!phone.cache.contains_key(PENDING_SALE_ORDER));
    }

    #[test]
    fn sold_out_is_said_plainly_and_the_screen_shows_what_is_left() {
        let mut phone = on_sale_screen(&additional_sale(1, 0));
        phone.send(Event::AdditionalPurchaseTapped);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        phone.respond_to(ORDERS, refusal(409, "sold_out"));
        assert_eq!(alert(&phone), "(server wording)");

        phone.respond_to(ME_SALE, answer(200, &additional_sale(0, 0)));
        let view = sale_view(&phone);
        assert_eq!(
            view.additional.as_deref(),
            Some("申し訳ありません。商品券は売り切れました。")
        );
        assert_eq!(view.buy_label, None);
        assert!(view.set_choices.is_empty());
        assert_eq!(view.busy, None, "the refused order is over");
    }

    #[test]
    fn sold_out_without_the_servers_words_still_gets_a_plain_message() {
        let mut phone = on_sale_screen(&additional_sale(1, 0));
        phone.send(Event::AdditionalPurchaseTapped);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        phone.respond_to(
            ORDERS,
            answer(409, &json!({ "error": "sold_out", "message": "" })),
        );
        assert_eq!(alert(&phone), "申し訳ありません。商品券は売り切れました。");
    }

    #[test]
    fn over_the_limit_keeps_the_servers_particulars() {
        let mut phone = on_sale_screen(&additional_sale(50, 2));
        assert_eq!(sale_view(&phone).buy_label, None, "the limit is reached");
        phone.send(Event::AdditionalPurchaseTapped);
        let mut random = phone.take::<RandomBytesRequest>();
        phone.resolve(&mut random, vec![0xcd; 16]);
        phone.respond_to(
            ORDERS,
            answer(
                422,
                &json!({ "error": "sale_limit_reached",
                         "message": "お一人2セットまでです。すでに2セット（お支払い待ちを含む）お持ちのため、これ以上はお求めになれません。 / The limit is 2 sets per resident; 2 held." }),
            ),
        );
        assert_eq!(
            alert(&phone),
            "お一人2セットまでです。すでに2セット（お支払い待ちを含む）お持ちのため、これ以上はお求めになれません。"
        );
    }

    #[test]
    fn a_sale_that_could_not_be_asked_for_says_so_and_a_refresh_asks_again() {
        let mut phone = Phone::signed_in();
        phone.send(Event::SaleOpened);
        phone.respond_to(ME_SALE, lost());
        let view = sale_view(&phone);
        assert_eq!(view.loading, None, "not waiting for anything");
        assert!(
            view.status
                .is_some_and(|s| s.contains("確かめられませんでした"))
        );
        assert!(phone.view().offline_banner.is_some());

        phone.send(Event::RefreshRequested);
        phone.respond_to(ME_SALE, answer(200, &my_sale("applications_open")));
        assert!(sale_view(&phone).apply_label.is_some());
        assert_eq!(phone.view().offline_banner, None);
    }

    #[test]
    fn pull_to_refresh_on_the_sale_screen_asks_for_the_sale_again() {
        let mut phone = on_sale_screen(&my_sale("awaiting_draw"));
        phone.send(Event::RefreshRequested);
        let mut sale = my_sale("winners_paying");
        sale["result"] = json!({ "requested": 1, "won": 0 });
        phone.respond_to(ME_SALE, answer(200, &sale));
        assert_eq!(
            sale_view(&phone).result.as_deref(),
            Some("抽選の結果、残念ながら今回は当選しませんでした。")
        );
    }

    #[test]
    fn logging_out_forgets_the_sale() {
        let mut phone = on_sale_screen(&with_application(my_sale("applications_open"), 2));
        phone.send(Event::LogoutTapped);
        phone.send(Event::SaleOpened);
        assert!(matches!(phone.view().screen, ScreenView::Login(_)));
        assert_eq!(phone.requests_to(ME_SALE), 0, "nobody to ask for");
    }
}
