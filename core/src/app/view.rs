//! The view model: exactly what the screens draw, already worded and formatted for Japanese
//! readers (¥6,500, 2025年2月28日まで, JST). Shells add layout and nothing else.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Yen,
    protocol::{Industry, Leg, PurseKind, Transaction, TransactionKind},
    time::{format_jst_date, format_jst_datetime},
};

use super::{
    FormField, messages,
    model::{Model, Order, PayStep, Screen},
    pay,
    sale_view::{self, SaleView},
    stores,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewModel {
    pub screen: ScreenView,
    /// Shown above any screen while the server cannot be reached.
    pub offline_banner: Option<String>,
    /// A message to show over the screen, with "もう一度ためす" when `retry_label` is set.
    pub alert: Option<AlertView>,
    /// The resident's community points (signed in only), for a points screen.
    #[serde(default)]
    pub points: Option<super::PointsView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub message: String,
    /// The label of the retry button (sends `Event::RetryTapped`); no button when `None`.
    pub retry_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenView {
    Loading { message: String },
    Login(LoginView),
    Registration(RegistrationView),
    Home(HomeView),
    History(HistoryView),
    Stores(StoresView),
    Pay(PayView),
    MyCode(MyCodeView),
    Sale(Box<SaleView>),
    Points(super::PointsView),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginView {
    pub error: Option<String>,
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationView {
    /// The districts to choose from.
    pub districts: Vec<String>,
    pub errors: Vec<FieldErrorView>,
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrorView {
    pub field: FormField,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeView {
    /// `山田 花子 さん`
    pub greeting: String,
    /// What can be spent now: `¥6,500`
    pub total: String,
    pub purses: Vec<PurseView>,
    /// `1,200ポイント`
    pub points: String,
    /// `最終更新 2025年1月10日 12:00`
    pub last_updated: Option<String>,
    /// Set while a payment waits for the server's answer.
    pub pending_payment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurseView {
    pub label: String,
    pub balance: String,
    /// `2025年2月28日まで`
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub rows: Vec<HistoryRowView>,
    pub can_load_more: bool,
    pub loading: bool,
    /// Shown instead of rows when there are none.
    pub empty_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRowView {
    pub id: i64,
    /// The store's name, or what kind of entry it is.
    pub title: String,
    /// Signed from the resident's side: `-¥1,200`, `+¥5,000`.
    pub amount: String,
    /// `2025年1月10日 12:00`
    pub date: String,
    /// Which purses it touched: `プレミアム分 ¥1,000、ポイント ¥200`.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoresView {
    pub query: String,
    pub industries: Vec<ChoiceView>,
    pub districts: Vec<ChoiceView>,
    pub stores: Vec<StoreRowView>,
    /// `12件のお店`
    pub summary: String,
}

/// One option of a filter. `value` is an industry's wire code (`Industry::from_code`) or a
/// district's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRowView {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub industry: String,
    pub district: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayView {
    Scanning {
        message: String,
    },
    Checking {
        message: String,
    },
    Amount {
        store_name: String,
        district: String,
        /// The field's content as typed (the fixed amount for an amount code).
        amount_text: String,
        /// The amount as it will be paid, once it is a valid amount: `¥1,200`.
        amount: Option<String>,
        /// True for an amount code: the field is read-only.
        amount_fixed: bool,
        /// `ポイントを使う（1,200ポイント）` when the resident has points.
        points_choice: Option<String>,
        use_points: bool,
        can_continue: bool,
    },
    Pin {
        store_name: String,
        district: String,
        amount: String,
    },
    Confirming {
        store_name: String,
        amount: String,
        message: String,
    },
    Receipt {
        store_name: String,
        amount: String,
        /// `2025年1月10日 12:00`
        paid_at: String,
        legs: Vec<LegView>,
        /// `¥5,300`
        balance_after: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegView {
    pub label: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyCodeView {
    /// The QR symbol, ready to draw.
    pub svg: Option<String>,
    /// The same code as text, for shells that draw QR symbols themselves.
    pub payload: Option<String>,
    pub caption: String,
    /// `14:05 に更新`
    pub updated: Option<String>,
    pub error: Option<String>,
}

pub fn view(model: &Model) -> ViewModel {
    ViewModel {
        screen: screen(model),
        offline_banner: model.offline.then(|| messages::OFFLINE_BANNER.to_owned()),
        alert: model.alert.as_ref().map(|alert| AlertView {
            message: alert.message.clone(),
            retry_label: alert.retry.map(|_| messages::RETRY.to_owned()),
        }),
        points: model.signed_in().then(|| super::points::view(model)),
    }
}

fn screen(model: &Model) -> ScreenView {
    match model.screen {
        Screen::Loading => ScreenView::Loading {
            message: messages::LOADING.into(),
        },
        Screen::Login => ScreenView::Login(LoginView {
            error: model.account.login_error.clone(),
            busy: model.account.busy,
        }),
        Screen::Registration => ScreenView::Registration(registration(model)),
        Screen::Home => ScreenView::Home(home(model)),
        Screen::History => ScreenView::History(history(model)),
        Screen::Stores => ScreenView::Stores(directory(model)),
        Screen::Pay => ScreenView::Pay(pay(model)),
        Screen::MyCode => ScreenView::MyCode(my_code(model)),
        Screen::Sale => ScreenView::Sale(Box::new(sale_view::view(model))),
        Screen::Points => ScreenView::Points(super::points::view(model)),
    }
}

fn registration(model: &Model) -> RegistrationView {
    RegistrationView {
        districts: model
            .programme
            .as_ref()
            .map(|p| p.districts.clone())
            .unwrap_or_default(),
        errors: model
            .account
            .registration_errors
            .iter()
            .map(|(field, message)| FieldErrorView {
                field: *field,
                message: message.clone(),
            })
            .collect(),
        busy: model.account.busy,
    }
}

fn home(model: &Model) -> HomeView {
    let balance = model.balance.as_ref();
    HomeView {
        greeting: model
            .session
            .as_ref()
            .map(|s| format!("{} さん", s.display_name))
            .unwrap_or_default(),
        total: balance.map_or(Yen::ZERO, |b| b.total).to_string(),
        purses: balance.map(purses).unwrap_or_default(),
        points: points(balance.map_or(Yen::ZERO, |b| b.points)),
        last_updated: balance.map(|b| format!("最終更新 {}", format_jst_datetime(b.as_of))),
        pending_payment: model.pending.as_ref().map(|p| {
            format!(
                "{}での {} のお支払いを確認中です。",
                p.store.name, p.request.amount
            )
        }),
    }
}

/// The purses that can still be spent, points apart.
fn purses(balance: &crate::protocol::Balance) -> Vec<PurseView> {
    balance
        .purses
        .iter()
        .filter(|p| p.kind != PurseKind::Points && p.balance.is_positive())
        .filter(|p| p.expires_at.is_none_or(|at| at > balance.as_of))
        .map(|p| PurseView {
            label: purse_label(p.kind).to_owned(),
            balance: p.balance.to_string(),
            expiry: p.expires_at.map(spendable_until),
        })
        .collect()
}

fn purse_label(kind: PurseKind) -> &'static str {
    match kind {
        PurseKind::Premium => "プレミアム付商品券",
        PurseKind::Charged => "チャージ",
        PurseKind::Points => "ポイント",
    }
}

/// `expires_at` is the first instant a purse can no longer be spent; residents read the last
/// day on which it can: `2025年2月28日まで`.
fn spendable_until(expires_at: DateTime<Utc>) -> String {
    format!("{}まで", format_jst_date(expires_at - Duration::seconds(1)))
}

fn points(points: Yen) -> String {
    format!("{}ポイント", points.to_string().replacen('¥', "", 1))
}

fn history(model: &Model) -> HistoryView {
    let history = &model.history;
    HistoryView {
        rows: history.items.iter().map(history_row).collect(),
        can_load_more: history.next_cursor.is_some() && !history.complete,
        loading: history.loading,
        empty_message: (history.items.is_empty() && !history.loading)
            .then(|| "まだ記録はありません。".to_owned()),
    }
}

fn history_row(t: &Transaction) -> HistoryRowView {
    HistoryRowView {
        id: t.id,
        title: t
            .store_name
            .clone()
            .filter(|_| matches!(t.kind, TransactionKind::Payment | TransactionKind::Refund))
            .map_or_else(
                || kind_label(t.kind).to_owned(),
                |store| {
                    if t.kind == TransactionKind::Refund {
                        format!("{store}（返金）")
                    } else {
                        store
                    }
                },
            ),
        amount: signed(t.amount),
        date: format_jst_datetime(t.created_at),
        detail: (!t.legs.is_empty()).then(|| legs(&t.legs)),
    }
}

fn kind_label(kind: TransactionKind) -> &'static str {
    match kind {
        TransactionKind::Charge => "チャージ",
        TransactionKind::Payment => "お支払い",
        TransactionKind::Refund => "返金",
        TransactionKind::Purchase => "商品券の購入",
        TransactionKind::Expiry => "有効期限切れ",
        TransactionKind::Points => "ポイント",
    }
}

fn signed(amount: Yen) -> String {
    if amount.is_positive() {
        format!("+{amount}")
    } else {
        amount.to_string()
    }
}

/// One amount per purse: a purchase credits the premium purse twice (the price and the
/// premium), which residents read as one `プレミアム分 ¥6,500`.
fn legs(legs: &[Leg]) -> String {
    let mut per_purse: Vec<(PurseKind, Option<&str>, i64)> = Vec::new();
    for leg in legs {
        let issue = leg.issue.as_deref();
        match per_purse
            .iter_mut()
            .find(|(purse, i, _)| *purse == leg.purse && *i == issue)
        {
            Some((_, _, sum)) => *sum = sum.saturating_add(leg.amount.get()),
            None => per_purse.push((leg.purse, issue, leg.amount.get())),
        }
    }
    per_purse
        .into_iter()
        .map(|(purse, _, sum)| format!("{} {}", leg_label(purse), Yen(sum.saturating_abs())))
        .collect::<Vec<_>>()
        .join("、")
}

fn leg_label(kind: PurseKind) -> &'static str {
    match kind {
        PurseKind::Premium => "プレミアム分",
        PurseKind::Charged => "チャージ分",
        PurseKind::Points => "ポイント",
    }
}

fn directory(model: &Model) -> StoresView {
    let filter = &model.store_filter;
    let found = stores::matching(&model.directory, filter);
    StoresView {
        query: filter.query.clone(),
        industries: Industry::ALL
            .iter()
            .map(|i| ChoiceView {
                value: i.code().to_owned(),
                label: i.japanese_name().to_owned(),
                selected: filter.industry == Some(*i),
            })
            .collect(),
        districts: stores::districts(model)
            .into_iter()
            .map(|d| ChoiceView {
                selected: filter.district.as_ref() == Some(&d),
                label: d.clone(),
                value: d,
            })
            .collect(),
        summary: format!("{}件のお店", found.len()),
        stores: found
            .into_iter()
            .map(|s| StoreRowView {
                id: s.id,
                name: s.name.clone(),
                kana: s.kana.clone(),
                industry: s.industry.japanese_name().to_owned(),
                district: s.district.clone(),
                address: s.address.clone(),
            })
            .collect(),
    }
}

fn pay(model: &Model) -> PayView {
    match &model.pay {
        PayStep::Idle | PayStep::Scanning => PayView::Scanning {
            message: messages::SCANNING.into(),
        },
        PayStep::CheckingCode { .. } | PayStep::CheckingStore { .. } => PayView::Checking {
            message: messages::CHECKING_STORE.into(),
        },
        PayStep::EnteringAmount { order } => amount(model, order),
        PayStep::EnteringPin { order, amount } => PayView::Pin {
            store_name: order.store.name.clone(),
            district: order.store.district.clone(),
            amount: amount.to_string(),
        },
        PayStep::DrawingKey { request, store, .. } => confirming(&store.name, request.amount),
        PayStep::Confirming { store, amount } => confirming(&store.name, *amount),
        PayStep::Done { receipt } => PayView::Receipt {
            store_name: receipt.store_name.clone(),
            amount: receipt.amount.to_string(),
            paid_at: format_jst_datetime(receipt.created_at),
            legs: receipt
                .legs
                .iter()
                .map(|leg| LegView {
                    label: leg_label(leg.purse).to_owned(),
                    amount: Yen(leg.amount.get().abs()).to_string(),
                })
                .collect(),
            balance_after: receipt.balance_after.to_string(),
        },
    }
}

fn amount(model: &Model, order: &Order) -> PayView {
    let amount = pay::amount_of(order);
    let points = model.balance.as_ref().map_or(Yen::ZERO, |b| b.points);
    PayView::Amount {
        store_name: order.store.name.clone(),
        district: order.store.district.clone(),
        amount_text: order.amount_text.clone(),
        amount: amount.map(|a| a.to_string()),
        amount_fixed: order.fixed_amount.is_some(),
        points_choice: points
            .is_positive()
            .then(|| format!("ポイントを使う（{}）", self::points(points))),
        use_points: order.use_points,
        can_continue: amount.is_some(),
    }
}

fn confirming(store_name: &str, amount: Yen) -> PayView {
    PayView::Confirming {
        store_name: store_name.to_owned(),
        amount: amount.to_string(),
        message: messages::CONFIRMING.into(),
    }
}

fn my_code(model: &Model) -> MyCodeView {
    let shown = model.my_code.shown.as_ref();
    MyCodeView {
        svg: shown.map(|c| c.svg.clone()),
        payload: shown.map(|c| c.payload.clone()),
        caption: if shown.is_some() {
            messages::MY_CODE_CAPTION.into()
        } else {
            messages::MY_CODE_PREPARING.into()
        },
        updated: shown.map(|c| format!("{} に更新", jst_time(c.issued_at))),
        error: model.my_code.error.clone(),
    }
}

/// `14:05`
fn jst_time(at: DateTime<Utc>) -> String {
    format_jst_datetime(at)
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::at;

    #[test]
    fn a_purse_shows_the_last_day_it_can_be_spent_in_japan() {
        // The premium currency lapses at midnight JST on 1 March.
        assert_eq!(
            spendable_until(at("2025-02-28T15:00:00Z")),
            "2025年2月28日まで"
        );
    }

    #[test]
    fn points_are_counted_not_priced() {
        assert_eq!(points(Yen(1200)), "1,200ポイント");
    }

    #[test]
    fn a_purchased_set_shows_once_in_the_premium_purse_of_the_history() {
        // The ledger credits the price and the premium separately into the same purse.
        let premium = |amount| Leg {
            purse: PurseKind::Premium,
            issue: Some("midori-2024".into()),
            amount: Yen(amount),
        };
        let row = history_row(&Transaction {
            id: 9,
            kind: TransactionKind::Purchase,
            amount: Yen(6500),
            store_id: None,
            store_name: None,
            payment_id: None,
            legs: vec![premium(5000), premium(1500)],
            created_at: at("2024-11-05T01:30:00Z"),
        });
        assert_eq!(row.title, "商品券の購入");
        assert_eq!(row.amount, "+¥6,500");
        assert_eq!(row.detail.as_deref(), Some("プレミアム分 ¥6,500"));
    }

    #[test]
    fn history_amounts_carry_their_sign() {
        assert_eq!(signed(Yen(-1200)), "-¥1,200");
        assert_eq!(signed(Yen(5000)), "+¥5,000");
    }
}
