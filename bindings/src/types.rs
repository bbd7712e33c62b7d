//! The uniffi mirrors of what crosses the boundary: the events a shell sends, the view model it
//! draws, and the platform requests it answers. Each type follows its `chiiki_core::app`
//! original field by field, and the `From` impls only move values across; no wording, no
//! formatting and no decisions happen here (those are the core's).
//!
//! Tuple variants of the core become named fields (`CodeScanned { payload }`), because uniffi
//! would otherwise name them `v1` in Kotlin.

use chiiki_core::{app, protocol::Industry};

use crate::WalletError;

// ---------------------------------------------------------------------------------------------
// Events: what the resident (or the shell on their behalf) did.

/// What the resident did. Mirrors `chiiki_core::app::Event` without its internal answers,
/// which only the bindings send.
// The registration form makes one variant large; uniffi enums cannot box it, and an event is
// made once per tap, so the size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Event {
    /// The app was launched. `server_url` is the server's origin, e.g.
    /// `https://midori.chiiki.jp`; `device_name` names the phone in the resident's device list.
    Started {
        server_url: String,
        device_name: String,
    },
    /// Pull to refresh, or the app came back to the front.
    RefreshRequested,
    /// "もう一度ためす" on the alert.
    RetryTapped,
    /// The alert was closed.
    AlertDismissed,
    LoginOpened,
    RegistrationOpened,
    RegistrationSubmitted {
        form: RegistrationForm,
    },
    LoginSubmitted {
        login: String,
        password: String,
    },
    LogoutTapped,
    HomeOpened,
    HistoryOpened,
    MoreHistoryRequested,
    StoresOpened,
    StoreSearchTyped {
        query: String,
    },
    /// `code` is a `ChoiceView.value` from `StoresView.industries`; `None` clears the filter.
    IndustryChosen {
        code: Option<String>,
    },
    /// `district` is a `ChoiceView.value` from `StoresView.districts`; `None` clears it.
    DistrictChosen {
        district: Option<String>,
    },
    PayTapped,
    /// A QR code was read by the shell's own scanner (instead of answering `open_camera`).
    CodeScanned {
        payload: String,
    },
    ScanCancelled,
    /// The amount field as typed (half- or full-width digits, commas allowed).
    AmountEntered {
        text: String,
    },
    UsePointsChosen {
        use_points: bool,
    },
    AmountConfirmed,
    /// The resident entered the PIN and confirmed: this is the moment the payment is made.
    PinEntered {
        pin: String,
    },
    PaymentCancelled,
    MyCodeOpened,
    /// The premium set sale screen: where the sale stands, the application, the lottery's
    /// result, what to pay, and the additional sale.
    SaleOpened,
    /// A number of sets was picked (`SetChoiceView.sets`), for the application or an
    /// additional-sale order.
    SetsChosen {
        sets: i64,
    },
    /// Apply for the chosen sets, or change the application to them.
    ApplySubmitted,
    /// Withdraw the application.
    WithdrawTapped,
    /// Take the chosen sets in the additional sale (first come, first served). Tapping again
    /// while it is unanswered sends the same order again, never a second one.
    AdditionalPurchaseTapped,
    /// The points screen: fetch the points, their expiry and the activities that earned them
    /// (`ViewModel.points`). Event codes (`CKE:…`) are claimed by scanning them
    /// (`Event.CodeScanned`).
    PointsOpened,
}

/// The registration form as the resident filled it in, every field as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct RegistrationForm {
    pub name: String,
    /// The reading, in katakana or hiragana.
    pub kana: String,
    /// `1950-04-01`, `1950/4/1` or `1950年4月1日`.
    pub birth_date: String,
    pub postal_code: String,
    /// One of the programme's districts (`RegistrationView.districts`).
    pub district: String,
    pub address: String,
    pub phone: String,
    /// May be left empty.
    pub email: String,
    pub password: String,
    pub pin: String,
    /// The PIN a second time.
    pub pin_again: String,
}

impl TryFrom<Event> for app::Event {
    type Error = WalletError;

    fn try_from(event: Event) -> Result<Self, WalletError> {
        Ok(match event {
            Event::Started {
                server_url,
                device_name,
            } => app::Event::Started {
                server_url,
                device_name,
            },
            Event::RefreshRequested => app::Event::RefreshRequested,
            Event::RetryTapped => app::Event::RetryTapped,
            Event::AlertDismissed => app::Event::AlertDismissed,
            Event::LoginOpened => app::Event::LoginOpened,
            Event::RegistrationOpened => app::Event::RegistrationOpened,
            Event::RegistrationSubmitted { form } => app::Event::RegistrationSubmitted(form.into()),
            Event::LoginSubmitted { login, password } => {
                app::Event::LoginSubmitted { login, password }
            }
            Event::LogoutTapped => app::Event::LogoutTapped,
            Event::HomeOpened => app::Event::HomeOpened,
            Event::HistoryOpened => app::Event::HistoryOpened,
            Event::MoreHistoryRequested => app::Event::MoreHistoryRequested,
            Event::StoresOpened => app::Event::StoresOpened,
            Event::StoreSearchTyped { query } => app::Event::StoreSearchTyped(query),
            Event::IndustryChosen { code } => app::Event::IndustryChosen(
                code.map(|code| {
                    Industry::from_code(&code).ok_or(WalletError::UnknownIndustry { code })
                })
                .transpose()?,
            ),
            Event::DistrictChosen { district } => app::Event::DistrictChosen(district),
            Event::PayTapped => app::Event::PayTapped,
            Event::CodeScanned { payload } => app::Event::CodeScanned(payload),
            Event::ScanCancelled => app::Event::ScanCancelled,
            Event::AmountEntered { text } => app::Event::AmountEntered(text),
            Event::UsePointsChosen { use_points } => app::Event::UsePointsChosen(use_points),
            Event::AmountConfirmed => app::Event::AmountConfirmed,
            Event::PinEntered { pin } => app::Event::PinEntered(pin),
            Event::PaymentCancelled => app::Event::PaymentCancelled,
            Event::MyCodeOpened => app::Event::MyCodeOpened,
            Event::SaleOpened => app::Event::SaleOpened,
            Event::SetsChosen { sets } => app::Event::SetsChosen(sets),
            Event::ApplySubmitted => app::Event::ApplySubmitted,
            Event::WithdrawTapped => app::Event::WithdrawTapped,
            Event::AdditionalPurchaseTapped => app::Event::AdditionalPurchaseTapped,
            Event::PointsOpened => app::Event::PointsOpened,
        })
    }
}

impl From<RegistrationForm> for app::RegistrationForm {
    fn from(form: RegistrationForm) -> Self {
        app::RegistrationForm {
            name: form.name,
            kana: form.kana,
            birth_date: form.birth_date,
            postal_code: form.postal_code,
            district: form.district,
            address: form.address,
            phone: form.phone,
            email: form.email,
            password: form.password,
            pin: form.pin,
            pin_again: form.pin_again,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The view model: exactly what the screens draw, already worded by the core.

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ViewModel {
    pub screen: ScreenView,
    /// Shown above any screen while the server cannot be reached.
    pub offline_banner: Option<String>,
    /// A message to show over the screen, with "もう一度ためす" when `retry_label` is set.
    pub alert: Option<AlertView>,
    /// The resident's community points (signed in only), for the points screen. Defaults to
    /// none so that shells and tests building a view model by hand need not name it.
    #[uniffi(default = None)]
    pub points: Option<PointsView>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AlertView {
    pub message: String,
    /// The label of the retry button (sends `Event.RetryTapped`); no button when `None`.
    pub retry_label: Option<String>,
}

// The sale screen makes one variant large; uniffi enums cannot box it, and a view model is
// made once per render, so the size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ScreenView {
    Loading { message: String },
    Login { view: LoginView },
    Registration { view: RegistrationView },
    Home { view: HomeView },
    History { view: HistoryView },
    Stores { view: StoresView },
    Pay { view: PayView },
    MyCode { view: MyCodeView },
    Sale { view: SaleView },
    Points { view: PointsView },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LoginView {
    pub error: Option<String>,
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RegistrationView {
    /// The districts to choose from.
    pub districts: Vec<String>,
    pub errors: Vec<FieldErrorView>,
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldErrorView {
    pub field: FormField,
    pub message: String,
}

/// A field of the registration form, for placing a message beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum FormField {
    Name,
    Kana,
    BirthDate,
    PostalCode,
    District,
    Address,
    Phone,
    Password,
    Pin,
    PinAgain,
    /// Not about one field.
    Form,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PurseView {
    pub label: String,
    pub balance: String,
    /// `2025年2月28日まで`
    pub expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryView {
    pub rows: Vec<HistoryRowView>,
    pub can_load_more: bool,
    pub loading: bool,
    /// Shown instead of rows when there are none.
    pub empty_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoresView {
    pub query: String,
    pub industries: Vec<ChoiceView>,
    pub districts: Vec<ChoiceView>,
    pub stores: Vec<StoreRowView>,
    /// `12件のお店`
    pub summary: String,
}

/// One option of a filter: send `value` back in `Event.IndustryChosen` / `DistrictChosen`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChoiceView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreRowView {
    pub id: i64,
    pub name: String,
    pub kana: String,
    pub industry: String,
    pub district: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
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

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LegView {
    pub label: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
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

/// The premium set sale screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SaleView {
    /// `みどり市プレミアム付電子地域通貨`
    pub title: String,
    /// Shown alone while the sale is being asked for and nothing is known yet:
    /// `販売の状況を確かめています…`
    pub loading: Option<String>,
    /// `1セット ¥5,000で ¥6,500分の商品券になります。お一人2セットまでです。`
    pub offer: Option<String>,
    /// Where the sale stands: `お申し込みを受け付けています（2024年10月21日まで）。…`
    pub status: Option<String>,
    /// The dates, each named: `申込期間` `2024年10月1日〜2024年10月21日`.
    pub schedule: Vec<SaleScheduleView>,
    /// `2セット（お支払い ¥10,000、¥13,000分）を申し込んでいます。` while the window is open,
    /// `お申し込み: 2セット（…）` after.
    pub application: Option<String>,
    /// 抽選結果: `抽選の結果、2セットのうち1セットが当選しました。`
    pub result: Option<String>,
    /// What the resident has to pay (or has paid), newest first.
    pub orders: Vec<SaleOrderView>,
    /// `お持ちのセット 1セット（お一人2セットまで）`
    pub held: Option<String>,
    /// The additional sale: `先着順で販売中です（残り100セット）。` or that it is sold out.
    pub additional: Option<String>,
    /// The numbers of sets to pick from (send `Event.SetsChosen`); empty when nothing can be
    /// applied for or bought now.
    pub set_choices: Vec<SetChoiceView>,
    /// `この内容で申し込む` / `この内容に変更する` (sends `Event.ApplySubmitted`).
    pub apply_label: Option<String>,
    /// `お申し込みを取り消す` (sends `Event.WithdrawTapped`).
    pub withdraw_label: Option<String>,
    /// `先着順で購入を申し込む` (sends `Event.AdditionalPurchaseTapped`).
    pub buy_label: Option<String>,
    /// Set while a request waits for the server; buttons are disabled meanwhile.
    pub busy: Option<String>,
    /// What went through last: `2セットのお申し込みを受け付けました。`
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SaleScheduleView {
    pub label: String,
    pub dates: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SetChoiceView {
    pub sets: i64,
    /// `2セット（お支払い ¥10,000、¥13,000分）`
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SaleOrderView {
    pub order_id: i64,
    /// `当選分 2セット` / `追加販売 1セット`
    pub title: String,
    /// `¥10,000（¥13,000分の商品券になります）`
    pub amount: String,
    /// `お支払い待ち` / `お支払い済み（商品券は残高に入っています）` / lapsed.
    pub status: String,
    /// For an order to pay: `2024年11月30日まで`.
    pub deadline: Option<String>,
    /// For an order to pay, one line per way of paying.
    pub how_to_pay: Vec<String>,
    /// For a paid order: `2024年11月5日 10:30`.
    pub paid_at: Option<String>,
}

/// The community points screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PointsView {
    /// `1,200ポイント`
    pub balance: String,
    /// How points are used, in one sentence.
    pub explanation: String,
    /// What can be spent, earliest expiry first.
    pub lots: Vec<PointsLotView>,
    /// The activities that earned points, newest first.
    pub activities: Vec<PointsActivityView>,
    /// The last claim's outcome.
    pub notice: Option<String>,
    /// Shown while the points are being fetched or a claim is on its way.
    pub busy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PointsLotView {
    /// `300ポイント`
    pub points: String,
    /// `2025年12月1日まで使えます`
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PointsActivityView {
    pub event: String,
    pub place: String,
    /// `+100ポイント`
    pub points: String,
    /// `2024年12月1日`
    pub earned_on: String,
    /// `2025年12月1日まで`
    pub expires: String,
}

impl From<app::ViewModel> for ViewModel {
    fn from(view: app::ViewModel) -> Self {
        ViewModel {
            screen: view.screen.into(),
            offline_banner: view.offline_banner,
            alert: view.alert.map(|alert| AlertView {
                message: alert.message,
                retry_label: alert.retry_label,
            }),
            points: view.points.map(PointsView::from),
        }
    }
}

impl From<app::PointsView> for PointsView {
    fn from(view: app::PointsView) -> Self {
        PointsView {
            balance: view.balance,
            explanation: view.explanation,
            lots: view
                .lots
                .into_iter()
                .map(|lot| PointsLotView {
                    points: lot.points,
                    expires: lot.expires,
                })
                .collect(),
            activities: view
                .activities
                .into_iter()
                .map(|a| PointsActivityView {
                    event: a.event,
                    place: a.place,
                    points: a.points,
                    earned_on: a.earned_on,
                    expires: a.expires,
                })
                .collect(),
            notice: view.notice,
            busy: view.busy,
        }
    }
}

impl From<app::ScreenView> for ScreenView {
    fn from(screen: app::ScreenView) -> Self {
        match screen {
            app::ScreenView::Loading { message } => ScreenView::Loading { message },
            app::ScreenView::Login(view) => ScreenView::Login {
                view: LoginView {
                    error: view.error,
                    busy: view.busy,
                },
            },
            app::ScreenView::Registration(view) => ScreenView::Registration {
                view: RegistrationView {
                    districts: view.districts,
                    errors: view
                        .errors
                        .into_iter()
                        .map(|e| FieldErrorView {
                            field: e.field.into(),
                            message: e.message,
                        })
                        .collect(),
                    busy: view.busy,
                },
            },
            app::ScreenView::Home(view) => ScreenView::Home { view: view.into() },
            app::ScreenView::History(view) => ScreenView::History { view: view.into() },
            app::ScreenView::Stores(view) => ScreenView::Stores { view: view.into() },
            app::ScreenView::Pay(view) => ScreenView::Pay { view: view.into() },
            app::ScreenView::MyCode(view) => ScreenView::MyCode {
                view: MyCodeView {
                    svg: view.svg,
                    payload: view.payload,
                    caption: view.caption,
                    updated: view.updated,
                    error: view.error,
                },
            },
            app::ScreenView::Sale(view) => ScreenView::Sale {
                view: (*view).into(),
            },
            app::ScreenView::Points(view) => ScreenView::Points { view: view.into() },
        }
    }
}

impl From<app::SaleView> for SaleView {
    fn from(view: app::SaleView) -> Self {
        SaleView {
            title: view.title,
            loading: view.loading,
            offer: view.offer,
            status: view.status,
            schedule: view
                .schedule
                .into_iter()
                .map(|s| SaleScheduleView {
                    label: s.label,
                    dates: s.dates,
                })
                .collect(),
            application: view.application,
            result: view.result,
            orders: view
                .orders
                .into_iter()
                .map(|o| SaleOrderView {
                    order_id: o.order_id,
                    title: o.title,
                    amount: o.amount,
                    status: o.status,
                    deadline: o.deadline,
                    how_to_pay: o.how_to_pay,
                    paid_at: o.paid_at,
                })
                .collect(),
            held: view.held,
            additional: view.additional,
            set_choices: view
                .set_choices
                .into_iter()
                .map(|c| SetChoiceView {
                    sets: c.sets,
                    label: c.label,
                    selected: c.selected,
                })
                .collect(),
            apply_label: view.apply_label,
            withdraw_label: view.withdraw_label,
            buy_label: view.buy_label,
            busy: view.busy,
            notice: view.notice,
        }
    }
}

impl From<app::FormField> for FormField {
    fn from(field: app::FormField) -> Self {
        match field {
            app::FormField::Name => FormField::Name,
            app::FormField::Kana => FormField::Kana,
            app::FormField::BirthDate => FormField::BirthDate,
            app::FormField::PostalCode => FormField::PostalCode,
            app::FormField::District => FormField::District,
            app::FormField::Address => FormField::Address,
            app::FormField::Phone => FormField::Phone,
            app::FormField::Password => FormField::Password,
            app::FormField::Pin => FormField::Pin,
            app::FormField::PinAgain => FormField::PinAgain,
            app::FormField::Form => FormField::Form,
        }
    }
}

impl From<app::HomeView> for HomeView {
    fn from(view: app::HomeView) -> Self {
        HomeView {
            greeting: view.greeting,
            total: view.total,
            purses: view
                .purses
                .into_iter()
                .map(|p| PurseView {
                    label: p.label,
                    balance: p.balance,
                    expiry: p.expiry,
                })
                .collect(),
            points: view.points,
            last_updated: view.last_updated,
            pending_payment: view.pending_payment,
        }
    }
}

impl From<app::HistoryView> for HistoryView {
    fn from(view: app::HistoryView) -> Self {
        HistoryView {
            rows: view
                .rows
                .into_iter()
                .map(|row| HistoryRowView {
                    id: row.id,
                    title: row.title,
                    amount: row.amount,
                    date: row.date,
                    detail: row.detail,
                })
                .collect(),
            can_load_more: view.can_load_more,
            loading: view.loading,
            empty_message: view.empty_message,
        }
    }
}

impl From<app::StoresView> for StoresView {
    fn from(view: app::StoresView) -> Self {
        let choices = |choices: Vec<app::ChoiceView>| {
            choices
                .into_iter()
                .map(|c| ChoiceView {
                    value: c.value,
                    label: c.label,
                    selected: c.selected,
                })
                .collect()
        };
        StoresView {
            query: view.query,
            industries: choices(view.industries),
            districts: choices(view.districts),
            stores: view
                .stores
                .into_iter()
                .map(|s| StoreRowView {
                    id: s.id,
                    name: s.name,
                    kana: s.kana,
                    industry: s.industry,
                    district: s.district,
                    address: s.address,
                })
                .collect(),
            summary: view.summary,
        }
    }
}

impl From<app::PayView> for PayView {
    fn from(view: app::PayView) -> Self {
        match view {
            app::PayView::Scanning { message } => PayView::Scanning { message },
            app::PayView::Checking { message } => PayView::Checking { message },
            app::PayView::Amount {
                store_name,
                district,
                amount_text,
                amount,
                amount_fixed,
                points_choice,
                use_points,
                can_continue,
            } => PayView::Amount {
                store_name,
                district,
                amount_text,
                amount,
                amount_fixed,
                points_choice,
                use_points,
                can_continue,
            },
            app::PayView::Pin {
                store_name,
                district,
                amount,
            } => PayView::Pin {
                store_name,
                district,
                amount,
            },
            app::PayView::Confirming {
                store_name,
                amount,
                message,
            } => PayView::Confirming {
                store_name,
                amount,
                message,
            },
            app::PayView::Receipt {
                store_name,
                amount,
                paid_at,
                legs,
                balance_after,
            } => PayView::Receipt {
                store_name,
                amount,
                paid_at,
                legs: legs
                    .into_iter()
                    .map(|leg| LegView {
                        label: leg.label,
                        amount: leg.amount,
                    })
                    .collect(),
                balance_after,
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Platform requests and their answers.

/// The outcome of `WalletShell.open_camera`, given back with `Wallet.resolve_scan`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ScanOutcome {
    /// The text the QR code carries, exactly as read.
    Scanned { payload: String },
    /// The resident closed the camera.
    Cancelled,
    /// No camera, or permission refused.
    Unavailable,
}

impl From<ScanOutcome> for app::ScanOutcome {
    fn from(outcome: ScanOutcome) -> Self {
        match outcome {
            ScanOutcome::Scanned { payload } => app::ScanOutcome::Scanned { payload },
            ScanOutcome::Cancelled => app::ScanOutcome::Cancelled,
            ScanOutcome::Unavailable => app::ScanOutcome::Unavailable,
        }
    }
}

/// What `WalletShell.use_device_key` asks of the device's P-256 key (Secure Enclave /
/// Android Keystore).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKeyRequest {
    /// Create the key if there is none yet, and give its public half.
    PublicKey,
    /// Sign `message` (ECDSA P-256 with SHA-256; the platform hashes).
    Sign { message: Vec<u8> },
}

impl From<app::DeviceKeyRequest> for DeviceKeyRequest {
    fn from(request: app::DeviceKeyRequest) -> Self {
        match request {
            app::DeviceKeyRequest::PublicKey => DeviceKeyRequest::PublicKey,
            app::DeviceKeyRequest::Sign { message } => DeviceKeyRequest::Sign { message },
        }
    }
}

/// The answer to a `DeviceKeyRequest`, given back with `Wallet.resolve_device_key`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKeyResponse {
    /// SEC1 uncompressed point (65 bytes, starting 0x04).
    PublicKey { sec1: Vec<u8> },
    /// The signature as the platform produces it (ASN.1 DER on iOS and Android).
    Signature { bytes: Vec<u8> },
    /// The key store refused or is missing; `reason` is for logs, not for residents.
    Unavailable { reason: String },
}

impl From<DeviceKeyResponse> for app::DeviceKeyResponse {
    fn from(response: DeviceKeyResponse) -> Self {
        match response {
            DeviceKeyResponse::PublicKey { sec1 } => app::DeviceKeyResponse::PublicKey { sec1 },
            DeviceKeyResponse::Signature { bytes } => app::DeviceKeyResponse::Signature { bytes },
            DeviceKeyResponse::Unavailable { reason } => {
                app::DeviceKeyResponse::Unavailable { reason }
            }
        }
    }
}

/// A local notification, already worded for the resident.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Notification {
    pub title: String,
    pub body: String,
}

impl From<app::Notification> for Notification {
    fn from(notification: app::Notification) -> Self {
        Notification {
            title: notification.title,
            body: notification.body,
        }
    }
}
