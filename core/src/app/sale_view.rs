//! The sale screen's view model: the windows named with their JST dates, the application, the
//! lottery's result, what to pay, how and by when, and the additional sale — worded for
//! residents as the web page `/sale` words them.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Yen,
    protocol::{MySale, OrderChannel, OrderStatus, SaleOrder, SalePaymentMethod, SalePhase},
    time::{format_date, format_jst_date, format_jst_datetime, jst},
};

use super::{messages, model::Model, sale};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleView {
    /// `みどり市プレミアム付電子地域通貨`
    pub title: String,
    /// Shown alone while the sale is being asked for and nothing is known yet:
    /// `販売の状況を確かめています…`
    pub loading: Option<String>,
    /// `1セット ¥5,000で ¥6,500分。お一人2セットまで。`
    pub offer: Option<String>,
    /// Where the sale stands: `お申し込みを受け付けています（2024年10月21日まで）。…`
    pub status: Option<String>,
    /// The dates, each named: `申込期間` `2024年10月1日〜2024年10月21日`.
    pub schedule: Vec<SaleScheduleView>,
    /// `2セット（お支払い ¥10,000、¥13,000分）を申し込んでいます。` while the window is open,
    /// `お申し込み: 2セット（…）` after.
    pub application: Option<String>,
    /// 抽選結果: `2セットのうち1セットが当選しました。`
    pub result: Option<String>,
    /// What the resident has to pay (or has paid), newest first.
    pub orders: Vec<SaleOrderView>,
    /// `お持ちのセット 1セット（お一人2セットまで）`
    pub held: Option<String>,
    /// The additional sale: `先着順で販売中です（残り100セット）。` or `売り切れました。`
    pub additional: Option<String>,
    /// The numbers of sets to pick from (send `Event::SetsChosen`); empty when nothing can be
    /// applied for or bought now.
    pub set_choices: Vec<SetChoiceView>,
    /// `この内容で申し込む` / `この内容に変更する` (sends `Event::ApplySubmitted`).
    pub apply_label: Option<String>,
    /// `お申し込みを取り消す` (sends `Event::WithdrawTapped`).
    pub withdraw_label: Option<String>,
    /// `先着順で購入を申し込む` (sends `Event::AdditionalPurchaseTapped`).
    pub buy_label: Option<String>,
    /// Set while a request waits for the server; buttons are disabled meanwhile.
    pub busy: Option<String>,
    /// What went through last: `2セットのお申し込みを受け付けました。`
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleScheduleView {
    pub label: String,
    pub dates: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChoiceView {
    pub sets: i64,
    /// `2セット（お支払い ¥10,000、¥13,000分）`
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleOrderView {
    pub order_id: i64,
    /// `当選分 2セット` / `追加販売 1セット`
    pub title: String,
    /// `¥10,000（¥13,000分の商品券になります）`
    pub amount: String,
    /// `お支払い待ち` / `お支払い済み（商品券は残高に入っています）` / `期限切れ…`
    pub status: String,
    /// For an order to pay: `2024年11月30日まで`.
    pub deadline: Option<String>,
    /// For an order to pay, one line per way: `市役所・各支所の窓口で現金で（お申し込み番号 12 をお伝えください）`.
    pub how_to_pay: Vec<String>,
    /// For a paid order: `2024年11月5日 10:30`.
    pub paid_at: Option<String>,
}

pub fn view(model: &Model) -> SaleView {
    let title = model.programme.as_ref().map_or_else(
        || "プレミアム付商品券".to_owned(),
        |p| p.display_name.clone(),
    );
    let busy = if model.sale.order.is_some() {
        Some(messages::SALE_ORDER_CONFIRMING.to_owned())
    } else if model.sale.in_flight {
        Some(messages::SALE_SENDING.to_owned())
    } else {
        None
    };
    let Some(info) = model.sale.info.as_ref() else {
        let loading = model.sale.loading;
        return SaleView {
            title,
            loading: loading.then(|| messages::SALE_LOADING.to_owned()),
            offer: None,
            // The server could not be asked (the offline banner or an alert says why).
            status: (!loading).then(|| messages::SALE_UNKNOWN.to_owned()),
            schedule: vec![],
            application: None,
            result: None,
            orders: vec![],
            held: None,
            additional: None,
            set_choices: vec![],
            apply_label: None,
            withdraw_label: None,
            buy_label: None,
            busy,
            notice: model.sale.notice.clone(),
        };
    };
    let chosen = match &model.sale.order {
        Some(order) => order.sets,
        None => sale::chosen_sets(model),
    };
    let most = choosable(info);
    let applying = info.phase == SalePhase::ApplicationsOpen;
    let buying = info.phase == SalePhase::AdditionalSale && most > 0;
    SaleView {
        title,
        loading: None,
        offer: Some(format!(
            "1セット {}で {}分の商品券になります。お一人{}セットまでです。",
            info.set_price, info.set_value, info.limit_per_resident
        )),
        status: Some(status(info)),
        schedule: schedule(info),
        application: info.application.as_ref().map(|a| {
            let what = format!(
                "{}セット（お支払い {}、{}分）",
                a.sets,
                times(info.set_price, a.sets),
                times(info.set_value, a.sets)
            );
            if applying {
                format!("{what}を申し込んでいます。")
            } else {
                format!("お申し込み: {what}")
            }
        }),
        result: info.result.as_ref().map(|r| {
            if r.won == 0 {
                "抽選の結果、残念ながら今回は当選しませんでした。".to_owned()
            } else if r.won < r.requested {
                format!(
                    "抽選の結果、{}セットのうち{}セットが当選しました。",
                    r.requested, r.won
                )
            } else {
                format!("抽選の結果、{}セットが当選しました。", r.won)
            }
        }),
        orders: info.orders.iter().map(order).collect(),
        held: (info.sets_held > 0).then(|| {
            format!(
                "お持ちのセット {}セット（お一人{}セットまで）",
                info.sets_held, info.limit_per_resident
            )
        }),
        additional: additional(info),
        set_choices: (1..=most)
            .map(|sets| SetChoiceView {
                sets,
                label: format!(
                    "{sets}セット（お支払い {}、{}分）",
                    times(info.set_price, sets),
                    times(info.set_value, sets)
                ),
                selected: sets == chosen,
            })
            .collect(),
        apply_label: applying.then(|| {
            if info.application.is_some() {
                "この内容に変更する".to_owned()
            } else {
                "この内容で申し込む".to_owned()
            }
        }),
        withdraw_label: (applying && info.application.is_some())
            .then(|| "お申し込みを取り消す".to_owned()),
        buy_label: buying.then(|| "先着順で購入を申し込む".to_owned()),
        busy,
        notice: model.sale.notice.clone(),
    }
}

/// How many sets can be picked now: the limit while applying; in the additional sale what is
/// left under the limit, and no more than remain on sale.
fn choosable(info: &MySale) -> i64 {
    match info.phase {
        SalePhase::ApplicationsOpen => info.limit_per_resident.max(0),
        SalePhase::AdditionalSale => {
            let room = (info.limit_per_resident - info.sets_held).max(0);
            info.additional_sale
                .remaining
                .map_or(0, |left| room.min(left.max(0)))
        }
        _ => 0,
    }
}

fn status(info: &MySale) -> String {
    let applications = &info.application_window;
    match info.phase {
        SalePhase::NotYetOpen => format!(
            "お申し込みは{}から受け付けます。",
            format_date(applications.first_day)
        ),
        SalePhase::ApplicationsOpen => format!(
            "お申し込みを受け付けています（{}まで）。期間中は何度でも変更や取り消しができます。",
            format_date(applications.last_day)
        ),
        SalePhase::AwaitingDraw => {
            "申込期間は終わりました。抽選の結果をお待ちください。".to_owned()
        }
        SalePhase::WinnersPaying => format!(
            "抽選が終わりました。当選した方は{}にお支払いください。",
            deadline(info.winners_pay_by)
        ),
        SalePhase::AdditionalSale => format!(
            "追加販売（先着順）を行っています（{}まで）。",
            format_date(info.sale_window.last_day)
        ),
        SalePhase::Closed => "今回の販売は終わりました。".to_owned(),
    }
}

fn schedule(info: &MySale) -> Vec<SaleScheduleView> {
    let range = |first: String, last: String| format!("{first}〜{last}");
    vec![
        SaleScheduleView {
            label: "申込期間".into(),
            dates: range(
                format_date(info.application_window.first_day),
                format_date(info.application_window.last_day),
            ),
        },
        SaleScheduleView {
            label: "当選した方のお支払い".into(),
            dates: range(
                format_date(info.sale_window.first_day),
                last_day(info.winners_pay_by),
            ),
        },
        SaleScheduleView {
            label: "追加販売（先着順）".into(),
            dates: range(
                format_jst_date(info.additional_sale.opens_at),
                last_day(info.additional_sale.closes_at),
            ),
        },
    ]
}

fn additional(info: &MySale) -> Option<String> {
    match (info.phase, info.additional_sale.remaining) {
        (SalePhase::AdditionalSale, Some(left)) if left > 0 => {
            Some(format!("先着順で販売中です（残り{left}セット）。"))
        }
        (SalePhase::AdditionalSale, Some(_)) => Some(messages::SOLD_OUT.to_owned()),
        (SalePhase::WinnersPaying, _) => Some(format!(
            "残ったセットは{}から先着順で販売します。",
            format_jst_date(info.additional_sale.opens_at)
        )),
        _ => None,
    }
}

fn order(order: &SaleOrder) -> SaleOrderView {
    let what = match order.channel {
        OrderChannel::Lottery => "当選分",
        OrderChannel::Additional => "追加販売",
    };
    let due = order.status == OrderStatus::Due;
    SaleOrderView {
        order_id: order.order_id,
        title: format!("{what} {}セット", order.sets),
        amount: format!("{}（{}分の商品券になります）", order.amount, order.value),
        status: match order.status {
            OrderStatus::Due => "お支払い待ち".to_owned(),
            OrderStatus::Paid => "お支払い済み（商品券は残高に入っています）".to_owned(),
            OrderStatus::Lapsed => {
                "期限までにお支払いがなかったため、無効になりました。".to_owned()
            }
        },
        deadline: due.then(|| deadline(order.pay_by)),
        how_to_pay: if due {
            order
                .payment_methods
                .iter()
                .map(|method| how(*method, order.order_id))
                .collect()
        } else {
            vec![]
        },
        paid_at: order.paid_at.map(format_jst_datetime),
    }
}

fn how(method: SalePaymentMethod, order_id: i64) -> String {
    match method {
        SalePaymentMethod::Counter => {
            format!("市役所・各支所の窓口で現金で（お申し込み番号 {order_id} をお伝えください）")
        }
        SalePaymentMethod::Provider => {
            format!("オンライン決済で（お申し込み番号 {order_id} を入力してください）")
        }
    }
}

/// `pay_by` is the first instant that is too late; residents read the last moment that is
/// not: `2024年11月30日まで`, or `2024年12月1日 13:00まで` for an order held by the hour.
pub fn deadline(pay_by: DateTime<Utc>) -> String {
    let local = pay_by.with_timezone(&jst());
    if (local.hour(), local.minute(), local.second()) == (0, 0, 0) {
        format!("{}まで", last_day(pay_by))
    } else {
        format!("{}まで", format_jst_datetime(pay_by))
    }
}

/// The JST day before the instant `end` (the first instant of the day after a window).
fn last_day(end: DateTime<Utc>) -> String {
    format_jst_date(end - Duration::seconds(1))
}

fn times(price: Yen, sets: i64) -> Yen {
    price.checked_mul(sets).unwrap_or(Yen::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::at;

    #[test]
    fn a_deadline_at_midnight_names_the_last_day_and_others_the_time() {
        assert_eq!(deadline(at("2024-11-30T15:00:00Z")), "2024年11月30日まで");
        assert_eq!(
            deadline(at("2024-12-01T04:00:00Z")),
            "2024年12月1日 13:00まで"
        );
    }
}
