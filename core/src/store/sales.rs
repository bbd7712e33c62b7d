//! Today's sales as the server counts them, and refunds of today's payments, in full or in
//! part. The server keeps the rules (no more than was paid; store staff only within the
//! programme's number of days); the app words its refusals.
//!
//! A refund gets one idempotency key when first confirmed and keeps it for every retry, so a
//! retried refund is made once.

use crux_core::Command;

use crate::Yen;
use crate::app::{
    RandomBytesRequest,
    api::{ApiResult, Call},
    text,
};
use crate::protocol::{
    RefundReceipt, RefundRequest, StoreEventKind, StorePaymentEvent, StoreSales, paths,
};

use super::{
    Event, Internal,
    effects::Effect,
    feed, hex, internal, messages,
    model::{Alert, Model, RefundDraft, Retry, Screen},
    render, session,
};

const KEY_BYTES: u32 = 16;

/// Load today's sales, or load them again once the answer on its way is in.
pub fn fetch_today(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    if model.sales.loading {
        model.sales.stale = true;
        return Command::done();
    }
    model.sales.loading = true;
    model.sales.stale = false;
    Call::get(paths::STORE_PAYMENTS).send(model.connection().as_ref(), |result| {
        internal(Internal::SalesFetched(result))
    })
}

pub fn today_fetched(model: &mut Model, result: ApiResult<StoreSales>) -> Command<Effect, Event> {
    model.sales.loading = false;
    let again = if model.sales.stale {
        fetch_today(model)
    } else {
        Command::done()
    };
    match result {
        Ok(sales) => {
            for line in &sales.payments {
                feed::remember(
                    model,
                    StorePaymentEvent {
                        kind: StoreEventKind::Payment,
                        payment_id: line.payment_id,
                        refund_id: None,
                        store_id: sales.store_id,
                        amount: line.amount,
                        created_at: line.created_at,
                        message: messages::received(line.amount),
                    },
                );
            }
            model.sales.today = Some(sales);
            render().and(again)
        }
        Err(error) if session::is_signed_out(&error) => session::signed_out(model),
        Err(error) => {
            if model.alert.is_none() {
                model.alert = Some(Alert::with_retry(messages::for_error(&error), Retry::Sales));
            }
            render().and(again)
        }
    }
}

pub fn open_refund(model: &mut Model, payment_id: i64) -> Command<Effect, Event> {
    let line = model
        .sales
        .today
        .as_ref()
        .and_then(|s| s.payments.iter().find(|p| p.payment_id == payment_id));
    let Some(line) = line else {
        return render();
    };
    let left = Yen(line.amount.get() - line.refunded.get());
    model.refund = Some(RefundDraft {
        payment_id,
        paid: line.amount,
        refunded: line.refunded,
        amount_text: left.get().to_string(),
        reason: String::new(),
        idempotency_key: None,
        sending: false,
    });
    model.screen = Screen::Refund;
    model.alert = None;
    render()
}

pub fn refund_amount_entered(model: &mut Model, text: String) -> Command<Effect, Event> {
    if let Some(draft) = model
        .refund
        .as_mut()
        .filter(|d| d.idempotency_key.is_none())
    {
        draft.amount_text = text;
    }
    render()
}

pub fn refund_reason_entered(model: &mut Model, text: String) -> Command<Effect, Event> {
    if let Some(draft) = model
        .refund
        .as_mut()
        .filter(|d| d.idempotency_key.is_none())
    {
        draft.reason = text;
    }
    render()
}

pub fn cancel_refund(model: &mut Model) -> Command<Effect, Event> {
    if model.refund.as_ref().is_some_and(|d| d.sending) {
        return render();
    }
    model.refund = None;
    model.screen = Screen::Till;
    render()
}

fn refund_amount(draft: &RefundDraft) -> Option<Yen> {
    let yen = Yen(text::digits(&draft.amount_text)?.parse().ok()?);
    yen.is_positive().then_some(yen)
}

pub fn confirm_refund(model: &mut Model) -> Command<Effect, Event> {
    let Some(draft) = &model.refund else {
        return render();
    };
    if draft.sending {
        return render();
    }
    if draft.idempotency_key.is_some() {
        return send_refund(model);
    }
    let Some(amount) = refund_amount(draft) else {
        model.alert = Some(Alert::new(messages::AMOUNT_INVALID));
        return render();
    };
    if amount.get() > draft.paid.get() - draft.refunded.get() {
        model.alert = Some(Alert::new(messages::REFUND_TOO_MUCH));
        return render();
    }
    if draft.reason.trim().is_empty() {
        model.alert = Some(Alert::new(messages::REFUND_REASON_MISSING));
        return render();
    }
    render().and(
        Command::request_from_shell(RandomBytesRequest { len: KEY_BYTES })
            .then_send(|bytes| internal(Internal::RefundKeyDrawn(bytes))),
    )
}

pub fn refund_key_drawn(model: &mut Model, bytes: &[u8]) -> Command<Effect, Event> {
    let Some(draft) = model.refund.as_mut() else {
        return Command::done();
    };
    if bytes.len() < KEY_BYTES as usize {
        model.alert = Some(Alert::new(messages::SOMETHING_WRONG));
        return render();
    }
    draft.idempotency_key.get_or_insert_with(|| hex(bytes));
    send_refund(model)
}

/// Send the refund (again): same key, same body.
pub fn send_refund(model: &mut Model) -> Command<Effect, Event> {
    let connection = model.connection();
    let Some(draft) = model.refund.as_mut() else {
        return render();
    };
    let (Some(key), Some(amount)) = (draft.idempotency_key.clone(), refund_amount(draft)) else {
        return render();
    };
    draft.sending = true;
    let body = RefundRequest {
        amount,
        reason: draft.reason.trim().to_owned(),
    };
    render().and(
        Call::post(paths::refunds(draft.payment_id), &body)
            .idempotency_key(&key)
            .send(connection.as_ref(), move |result| {
                internal(Internal::RefundAnswered { key, result })
            }),
    )
}

pub fn refund_answered(
    model: &mut Model,
    key: &str,
    result: ApiResult<RefundReceipt>,
) -> Command<Effect, Event> {
    let Some(draft) = model
        .refund
        .as_mut()
        .filter(|d| d.idempotency_key.as_deref() == Some(key))
    else {
        return Command::done();
    };
    draft.sending = false;
    match result {
        Ok(receipt) => {
            model.refund = None;
            model.screen = Screen::Till;
            model.alert = Some(Alert::new(messages::refunded(receipt.amount)));
            render().and(fetch_today(model))
        }
        Err(error) if session::is_signed_out(&error) => session::signed_out(model),
        Err(error) if error.is_definite() => {
            // Nothing was refunded: the next try is a new refund, with a new key.
            draft.idempotency_key = None;
            model.alert = Some(Alert::new(messages::for_error(&error)));
            render()
        }
        Err(error) => {
            model.alert = Some(Alert::with_retry(
                messages::for_error(&error),
                Retry::SendRefund,
            ));
            render()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::store::{
        ScreenView, TillView,
        testing::{Till, answer_json, header, json_body, lost, sales},
    };

    use super::*;

    const SALES: &str = "/api/v1/store/payments";
    const REFUNDS: &str = "/api/v1/payments/501/refunds";
    const KEY: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

    fn till_view(till: &Till) -> TillView {
        match till.view().screen {
            ScreenView::Till(view) => view,
            other => panic!("expected the till, got {other:?}"),
        }
    }

    fn alert(till: &Till) -> String {
        till.view().alert.expect("an alert").message
    }

    fn with_sales(payments: &[(i64, i64, i64)]) -> Till {
        let mut till = Till::signed_in();
        till.send(Event::RefreshRequested);
        till.respond_to(SALES, answer_json(200, &sales(payments)));
        till
    }

    fn refund_receipt(amount: i64) -> serde_json::Value {
        json!({ "refund_id": 90, "payment_id": 501, "amount": amount, "legs": [],
                "refunded_total": amount, "created_at": "2025-01-10T06:00:00Z" })
    }

    /// Open the refund of payment 501, type `amount` and a reason, confirm, draw the key.
    fn refund(till: &mut Till, amount: &str) {
        till.send(Event::RefundOpened { payment_id: 501 });
        till.send(Event::RefundAmountEntered(amount.into()));
        till.send(Event::RefundReasonEntered("返品".into()));
        till.send(Event::RefundConfirmed);
        let mut random = till.take_random();
        till.resolve(&mut random, vec![0xcd; 16]);
    }

    #[test]
    fn todays_sales_show_count_and_yen() {
        let till = with_sales(&[(502, 500, 0), (501, 1200, 200)]);
        let view = till_view(&till);
        assert_eq!(view.today.summary, "本日 2件 ¥1,700");
        assert_eq!(view.payments[1].amount, "¥1,200");
        assert_eq!(view.payments[1].refunded.as_deref(), Some("¥200 返金済み"));
        assert!(view.payments[1].refundable);
    }

    #[test]
    fn a_partial_refund_is_sent_once_and_the_figures_reload() {
        let mut till = with_sales(&[(501, 1200, 0)]);
        till.send(Event::RefundOpened { payment_id: 501 });
        let ScreenView::Refund(form) = till.view().screen else {
            panic!("expected the refund form");
        };
        assert_eq!(
            (form.paid.as_str(), form.amount_text.as_str()),
            ("¥1,200", "1200")
        );
        refund(&mut till, "500");
        let sent = till.respond_to(REFUNDS, answer_json(201, &refund_receipt(500)));
        assert_eq!(json_body(&sent), json!({ "amount": 500, "reason": "返品" }));
        assert_eq!(header(&sent, "idempotency-key"), Some(KEY));
        assert_eq!(alert(&till), "¥500 返金しました");
        assert!(matches!(till.view().screen, ScreenView::Till(_)));
        assert_eq!(till.requests_to(SALES), 1);
    }

    #[test]
    fn a_refund_whose_answer_was_lost_is_retried_with_the_same_key() {
        let mut till = with_sales(&[(501, 1200, 0)]);
        refund(&mut till, "1200");
        let first = till.respond_to(REFUNDS, lost());
        till.send(Event::RetryTapped);
        let second = till.respond_to(REFUNDS, answer_json(201, &refund_receipt(1200)));
        assert_eq!(
            header(&first, "idempotency-key"),
            header(&second, "idempotency-key")
        );
        assert_eq!(first.body, second.body);
    }

    #[test]
    fn a_refund_too_old_for_the_store_says_to_ask_the_city() {
        let mut till = with_sales(&[(501, 1200, 0)]);
        refund(&mut till, "1200");
        let body = json!({ "error": "refund_window_closed",
            "message": "お店で返金できるのは支払いから7日以内です。市の窓口にご相談ください。 / Store staff may refund payments of the last 7 days only." });
        till.respond_to(REFUNDS, answer_json(403, &body));
        assert_eq!(
            alert(&till),
            "お店で返金できるのは支払いから7日以内です。市の窓口にご相談ください。"
        );
    }

    #[test]
    fn more_than_is_left_or_no_reason_is_caught_before_sending() {
        let mut till = with_sales(&[(501, 1200, 1000)]);
        till.send(Event::RefundOpened { payment_id: 501 });
        till.send(Event::RefundAmountEntered("300".into()));
        till.send(Event::RefundReasonEntered("返品".into()));
        till.send(Event::RefundConfirmed);
        assert_eq!(alert(&till), messages::REFUND_TOO_MUCH);
        till.send(Event::RefundAmountEntered("200".into()));
        till.send(Event::RefundReasonEntered("  ".into()));
        till.send(Event::RefundConfirmed);
        assert_eq!(alert(&till), messages::REFUND_REASON_MISSING);
        assert_eq!(till.requests_to(REFUNDS), 0);
    }
}
