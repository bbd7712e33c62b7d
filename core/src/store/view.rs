//! The store app's view model: everything the till screens draw, already worded and formatted
//! (¥1,200; 14:05 in JST).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Yen;
use crate::app::AlertView;
use crate::protocol::StoreEventKind;
use crate::time::jst;

use super::{
    charge, messages,
    model::{ChargeStep, Model, Screen},
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewModel {
    pub screen: ScreenView,
    pub alert: Option<AlertView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenView {
    Login { busy: bool },
    Till(TillView),
    AmountCode(AmountCodeView),
    Refund(RefundView),
}

/// The till: amount field, the charge under way, today's figures and the live list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TillView {
    /// Who is signed in, e.g. みどりベーカリー.
    pub staff_name: String,
    pub amount_text: String,
    pub charge: Option<ChargeView>,
    pub today: TodayView,
    /// Newest first: 「¥1,200 受け取りました」.
    pub feed: Vec<FeedLineView>,
    /// Today's payments, for refunds.
    pub payments: Vec<SaleLineView>,
    /// `None` while payments arrive live; otherwise a note that the feed is reconnecting.
    pub feed_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeView {
    pub message: String,
    /// The camera is (about to be) open.
    pub scanning: bool,
    /// Waiting for the server: no new charge can start.
    pub confirming: bool,
    /// Charged: `message` is the receipt's 「¥1,200 受け取りました」.
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayView {
    pub payment_count: i64,
    pub gross: String,
    pub refunds: String,
    pub net: String,
    /// 「本日 3件 ¥3,600」.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedLineView {
    pub payment_id: i64,
    pub message: String,
    /// JST, e.g. 14:05.
    pub time: String,
    pub refund: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLineView {
    pub payment_id: i64,
    pub amount: String,
    /// 「¥500 返金済み」, when any was refunded.
    pub refunded: Option<String>,
    pub time: String,
    /// Something is left to refund.
    pub refundable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountCodeView {
    pub amount: String,
    /// The QR code's text; the shell draws it as a QR code.
    pub payload: String,
    pub caption: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    pub payment_id: i64,
    pub paid: String,
    pub refunded: String,
    /// What can still be refunded.
    pub refundable: String,
    pub amount_text: String,
    pub reason: String,
    pub sending: bool,
}

pub fn view(model: &Model) -> ViewModel {
    let screen = match model.screen {
        _ if !model.signed_in() => ScreenView::Login {
            busy: model.logging_in,
        },
        Screen::Login | Screen::Till => ScreenView::Till(till(model)),
        Screen::AmountCode => match charge::amount_code(model) {
            Some((amount, payload)) => ScreenView::AmountCode(AmountCodeView {
                amount: amount.to_string(),
                payload,
                caption: messages::AMOUNT_CODE_CAPTION.into(),
            }),
            None => ScreenView::Till(till(model)),
        },
        Screen::Refund => match &model.refund {
            Some(draft) => ScreenView::Refund(RefundView {
                payment_id: draft.payment_id,
                paid: draft.paid.to_string(),
                refunded: draft.refunded.to_string(),
                refundable: Yen(draft.paid.get() - draft.refunded.get()).to_string(),
                amount_text: draft.amount_text.clone(),
                reason: draft.reason.clone(),
                sending: draft.sending,
            }),
            None => ScreenView::Till(till(model)),
        },
    };
    ViewModel {
        screen,
        alert: model.alert.as_ref().map(|alert| AlertView {
            message: alert.message.clone(),
            retry_label: alert.retry.map(|_| messages::RETRY.to_owned()),
        }),
    }
}

fn till(model: &Model) -> TillView {
    let today = model.sales.today.as_ref();
    let count = today.map_or(0, |s| s.payment_count);
    let gross = today.map_or(Yen(0), |s| s.gross);
    TillView {
        staff_name: model
            .session
            .as_ref()
            .map(|s| s.display_name.clone())
            .unwrap_or_default(),
        amount_text: model.amount_text.clone(),
        charge: charge_view(&model.charge),
        today: TodayView {
            payment_count: count,
            gross: gross.to_string(),
            refunds: today.map_or(Yen(0), |s| s.refunds).to_string(),
            net: today.map_or(Yen(0), |s| s.net).to_string(),
            summary: format!("本日 {count}件 {gross}"),
        },
        feed: model
            .feed
            .events
            .iter()
            .map(|e| FeedLineView {
                payment_id: e.payment_id,
                message: match e.kind {
                    StoreEventKind::Payment => messages::received(e.amount),
                    StoreEventKind::Refund => messages::refunded(e.amount),
                },
                time: clock_time(e.created_at),
                refund: e.kind == StoreEventKind::Refund,
            })
            .collect(),
        payments: today
            .map(|s| {
                s.payments
                    .iter()
                    .map(|p| SaleLineView {
                        payment_id: p.payment_id,
                        amount: p.amount.to_string(),
                        refunded: p
                            .refunded
                            .is_positive()
                            .then(|| format!("{} 返金済み", p.refunded)),
                        time: clock_time(p.created_at),
                        refundable: p.refunded < p.amount,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        feed_note: (!model.feed.live).then(|| messages::FEED_RECONNECTING.to_owned()),
    }
}

fn charge_view(step: &ChargeStep) -> Option<ChargeView> {
    let (message, scanning, confirming, done) = match step {
        ChargeStep::Idle => return None,
        ChargeStep::Scanning { .. } => (messages::SCANNING.to_owned(), true, false, false),
        ChargeStep::DrawingKey { .. } | ChargeStep::Confirming { .. } => {
            (messages::CONFIRMING.to_owned(), false, true, false)
        }
        ChargeStep::Done { receipt } => (messages::received(receipt.amount), false, false, true),
    };
    Some(ChargeView {
        message,
        scanning,
        confirming,
        done,
    })
}

fn clock_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst()).format("%H:%M").to_string()
}
