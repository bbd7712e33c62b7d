//! The resident app: a crux_core 0.20 `App`. Events in, the model updated, commands out, and a
//! view model that screens draw as it is. Pure: no I/O and no clock; every side effect is an
//! effect request that the bindings or the shell carry out.
//!
//! Effects, and what the bindings / shell must do for each (`effects::Effect`):
//! - `Render(crux_core::render::RenderOperation)`: call `view()` and redraw. Shell.
//! - `Http(crux_http::protocol::HttpRequest)` → `crux_http::protocol::HttpResult`: perform the
//!   request as given (method, absolute URL, headers, body); any completed exchange, 4xx/5xx
//!   included, is `HttpResult::Ok`; only a transport failure is `HttpResult::Err`
//!   (`HttpError::Io` / `Timeout`). Requests carry secrets (bearer token, PIN): never log
//!   headers or bodies. Bindings, in Rust.
//! - `Cache(crux_kv::KeyValueOperation)` → `crux_kv::KeyValueResult`: a durable key-value store
//!   (SQLite) in app-private storage. A `Set` must be durable when it is answered: the pending
//!   payment is written before it is sent, and it holds the PIN until the server answers (the
//!   repeat must carry the same body), so keep the store private and never log values. Only
//!   `Get`, `Set` and `Delete` are used; keys are the `SESSION`… constants. Bindings, in Rust.
//! - `Clock(effects::NowRequest)` → `chrono::DateTime<Utc>`: the current instant. Bindings.
//! - `Timer(effects::TimerRequest { millis })` → `()`: resolve after `millis`, from another
//!   thread; never drop one (the app ignores timers it no longer needs). Bindings.
//! - `Random(effects::RandomBytesRequest { len })` → `Vec<u8>`: `len` bytes from the OS's secure
//!   generator (payment idempotency keys, resident-code nonces). Bindings.
//! - `Camera(effects::ScanRequest)` → `effects::ScanOutcome`: open the camera, read one QR code.
//!   Shell. (A shell with its own scanner may instead send `Event::CodeScanned`.)
//! - `DeviceKey(effects::DeviceKeyRequest)` → `effects::DeviceKeyResponse`: `PublicKey` creates
//!   the device's P-256 key in the Secure Enclave / Android Keystore if needed and returns the
//!   SEC1 uncompressed point (sent at login); `Sign { message }` signs with it (resident code).
//!   Shell.
//! - `Notify(effects::Notification)` → `()`: show a local notification (a payment confirmed
//!   only after it had to be re-sent, when the resident may have put the phone away). Shell.
//!
//! Time: the resident code rotates every `codes::ROTATE_EVERY_MS` through `Timer`, and a
//! payment whose answer was lost is re-sent after a growing `Timer` delay; the shell sends no
//! ticks. `Event::RefreshRequested` (pull to refresh, app back in front) also re-sends it.

mod account;
pub(crate) mod api;
pub(crate) mod cache;
mod codes;
mod effects;
mod history;
pub(crate) mod messages;
mod model;
mod my_code;
mod pay;
mod points;
mod refresh;
mod sale;
mod sale_view;
mod stores;
pub(crate) mod text;
mod view;

#[cfg(test)]
pub(crate) mod testing;

use crux_core::Command;

use crate::protocol::{
    Balance, Industry, MySale, PaymentReceipt, PointsClaimReceipt, PointsSummary, ProgrammeInfo,
    ResidentRegistered, SaleApplication, SaleOrder, SessionCreated, StoreDetail, StoreDirectory,
    TransactionPage,
};

pub use account::{FormField, RegistrationForm};
pub use api::{ApiError, ApiResult};
pub use cache::{
    BALANCE, DIRECTORY, HISTORY, PENDING_PAYMENT, PENDING_SALE_ORDER, PROGRAMME, SESSION,
};
pub use codes::TokenParts;
pub use effects::{
    DeviceKeyRequest, DeviceKeyResponse, Effect, Notification, NowRequest, RandomBytesRequest,
    ScanOutcome, ScanRequest, TimerRequest,
};
pub use model::Model;
pub use points::{PointsActivityView, PointsLotView, PointsView};
pub use sale_view::{SaleOrderView, SaleScheduleView, SaleView, SetChoiceView};
pub use view::{
    AlertView, ChoiceView, FieldErrorView, HistoryRowView, HistoryView, HomeView, LegView,
    LoginView, MyCodeView, PayView, PurseView, RegistrationView, ScreenView, StoreRowView,
    StoresView, ViewModel,
};

/// What the resident (or the shell on their behalf) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The app was launched. `server_url` is the server's origin, e.g. `https://midori.chiiki.jp`;
    /// `device_name` names the phone in the resident's device list.
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
    RegistrationSubmitted(RegistrationForm),
    LoginSubmitted {
        login: String,
        password: String,
    },
    LogoutTapped,

    HomeOpened,
    HistoryOpened,
    MoreHistoryRequested,

    StoresOpened,
    StoreSearchTyped(String),
    IndustryChosen(Option<Industry>),
    DistrictChosen(Option<String>),

    PayTapped,
    /// A QR code was read (from `Effect::Camera`, or by the shell's own scanner).
    CodeScanned(String),
    ScanCancelled,
    /// The amount field as typed (half- or full-width digits, commas allowed).
    AmountEntered(String),
    UsePointsChosen(bool),
    AmountConfirmed,
    /// The resident entered the PIN and confirmed: this is the moment the payment is made.
    PinEntered(String),
    PaymentCancelled,

    MyCodeOpened,

    /// The points screen: fetch the points, their expiry and the activities that earned them.
    /// (Scanning an event code needs no event of its own: `CodeScanned` routes it.)
    PointsOpened,

    /// The premium set sale screen: where the sale stands, the application, the lottery's
    /// result, what to pay, and the additional sale.
    SaleOpened,
    /// A number of sets was picked (`SetChoiceView::sets`), for the application or an
    /// additional-sale order.
    SetsChosen(i64),
    /// Apply for the chosen sets, or change the application to them.
    ApplySubmitted,
    /// Withdraw the application.
    WithdrawTapped,
    /// Take the chosen sets in the additional sale (first come, first served). Tapping again
    /// while it is unanswered sends the same order again, never a second one.
    AdditionalPurchaseTapped,

    /// Answers to the app's own effects. Shells never send these.
    Internal(Internal),
}

/// Answers to effects, routed back into `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Internal {
    CacheLoaded(Box<cache::Stored>),
    Registered(ApiResult<ResidentRegistered>),
    DeviceKeyRead(DeviceKeyResponse),
    SessionCreated(ApiResult<SessionCreated>),
    ProgrammeFetched(ApiResult<ProgrammeInfo>),
    BalanceFetched(ApiResult<Balance>),
    HistoryFetched {
        older: bool,
        result: ApiResult<TransactionPage>,
    },
    DirectoryFetched(ApiResult<StoreDirectory>),
    CameraUnavailable,
    StoreFetched {
        store_id: i64,
        result: ApiResult<StoreDetail>,
    },
    PaymentKeyDrawn(Vec<u8>),
    PendingPaymentSaved {
        key: String,
        stored: bool,
    },
    PaymentAnswered {
        key: String,
        result: ApiResult<PaymentReceipt>,
    },
    PaymentRetryDue {
        key: String,
    },
    MyCodeSigned {
        generation: u64,
        parts: TokenParts,
        answer: DeviceKeyResponse,
    },
    MyCodeRotationDue {
        generation: u64,
    },
    SaleFetched(ApiResult<MySale>),
    SaleApplied(ApiResult<SaleApplication>),
    SaleWithdrawn(ApiResult<()>),
    SaleOrderKeyDrawn(Vec<u8>),
    SaleOrderSaved {
        key: String,
        stored: bool,
    },
    SaleOrderAnswered {
        key: String,
        result: ApiResult<SaleOrder>,
    },
    PointsFetched(ApiResult<PointsSummary>),
    PointsKeyDrawn(Vec<u8>),
    PointsClaimed {
        key: String,
        result: ApiResult<PointsClaimReceipt>,
    },
}

/// The resident app.
#[derive(Debug, Default)]
pub struct ResidentApp;

impl crux_core::App for ResidentApp {
    type Event = Event;
    type Model = Model;
    type ViewModel = ViewModel;
    type Effect = Effect;

    fn update(&self, event: Event, model: &mut Model) -> Command<Effect, Event> {
        match event {
            Event::Started {
                server_url,
                device_name,
            } => refresh::start(model, &server_url, device_name),
            Event::RefreshRequested => refresh::refresh(model),
            Event::RetryTapped => retry(model),
            Event::AlertDismissed => dismiss_alert(model),

            Event::LoginOpened => account::open_login(model),
            Event::RegistrationOpened => account::open_registration(model),
            Event::RegistrationSubmitted(form) => account::register(model, form),
            Event::LoginSubmitted { login, password } => account::log_in(model, login, password),
            Event::LogoutTapped => account::log_out(model),

            Event::HomeOpened => refresh::open_home(model),
            Event::HistoryOpened => history::open(model),
            Event::MoreHistoryRequested => history::load_older(model),

            Event::StoresOpened => stores::open(model),
            Event::StoreSearchTyped(query) => stores::search(model, query),
            Event::IndustryChosen(industry) => stores::choose_industry(model, industry),
            Event::DistrictChosen(district) => stores::choose_district(model, district),

            Event::PayTapped => pay::start_scan(model),
            Event::CodeScanned(payload) => pay::code_scanned(model, payload),
            Event::ScanCancelled | Event::PaymentCancelled => pay::cancel(model),
            Event::AmountEntered(text) => pay::amount_entered(model, text),
            Event::UsePointsChosen(on) => pay::use_points(model, on),
            Event::AmountConfirmed => pay::amount_confirmed(model),
            Event::PinEntered(pin) => pay::pin_entered(model, pin),

            Event::MyCodeOpened => my_code::open(model),
            Event::PointsOpened => points::open(model),

            Event::SaleOpened => sale::open(model),
            Event::SetsChosen(sets) => sale::choose(model, sets),
            Event::ApplySubmitted => sale::apply(model),
            Event::WithdrawTapped => sale::withdraw(model),
            Event::AdditionalPurchaseTapped => sale::buy(model),

            Event::Internal(answer) => self.answered(answer, model),
        }
    }

    fn view(&self, model: &Model) -> ViewModel {
        view::view(model)
    }
}

impl ResidentApp {
    fn answered(&self, answer: Internal, model: &mut Model) -> Command<Effect, Event> {
        match answer {
            Internal::CacheLoaded(stored) => refresh::cache_loaded(model, *stored),
            Internal::Registered(result) => account::registered(model, result),
            Internal::DeviceKeyRead(answer) => account::device_key_read(model, answer),
            Internal::SessionCreated(result) => account::session_created(model, result),
            Internal::ProgrammeFetched(result) => refresh::programme_fetched(model, result),
            Internal::BalanceFetched(result) => refresh::balance_fetched(model, result),
            Internal::HistoryFetched { older, result } => {
                history::page_fetched(model, older, result)
            }
            Internal::DirectoryFetched(result) => stores::directory_fetched(model, result),
            Internal::CameraUnavailable => pay::camera_unavailable(model),
            Internal::StoreFetched { store_id, result } => {
                pay::store_fetched(model, store_id, result)
            }
            Internal::PaymentKeyDrawn(bytes) => pay::key_drawn(model, &bytes),
            Internal::PendingPaymentSaved { key, stored } => {
                pay::pending_saved(model, &key, stored)
            }
            Internal::PaymentAnswered { key, result } => pay::answered(model, &key, result),
            Internal::PaymentRetryDue { key } => pay::retry_due(model, &key),
            Internal::MyCodeSigned {
                generation,
                parts,
                answer,
            } => my_code::signed(model, generation, parts, answer),
            Internal::MyCodeRotationDue { generation } => my_code::rotation_due(model, generation),
            Internal::SaleFetched(result) => sale::fetched(model, result),
            Internal::SaleApplied(result) => sale::applied(model, result),
            Internal::SaleWithdrawn(result) => sale::withdrawn(model, result),
            Internal::SaleOrderKeyDrawn(bytes) => sale::order_key_drawn(model, &bytes),
            Internal::SaleOrderSaved { key, stored } => sale::order_saved(model, &key, stored),
            Internal::SaleOrderAnswered { key, result } => {
                sale::order_answered(model, &key, result)
            }
            Internal::PointsFetched(result) => points::fetched(model, result),
            Internal::PointsKeyDrawn(bytes) => points::key_drawn(model, &bytes),
            Internal::PointsClaimed { key, result } => points::claimed(model, &key, result),
        }
    }
}

/// "もう一度ためす": do again what failed.
fn retry(model: &mut Model) -> Command<Effect, Event> {
    let Some(retry) = model.alert.take().and_then(|alert| alert.retry) else {
        return effects::render();
    };
    match retry {
        model::Retry::Refresh => refresh::refresh(model),
        model::Retry::Login => account::retry_login(model),
        model::Retry::Register => account::retry_registration(model),
        model::Retry::Scan => pay::start_scan(model),
        model::Retry::StoreLookup => pay::retry_store_lookup(model),
        model::Retry::SendPayment => pay::resend_now(model),
        model::Retry::MoreHistory => history::load_older(model),
        model::Retry::MyCode => my_code::open(model),
        model::Retry::SaleApplication => sale::retry_action(model),
        model::Retry::SaleOrder => sale::resend_order(model),
    }
}

fn dismiss_alert(model: &mut Model) -> Command<Effect, Event> {
    model.alert = None;
    effects::render()
}

/// Send an internal answer as an event.
fn internal(answer: Internal) -> Event {
    Event::Internal(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_can_be_shared_with_the_bindings_threads() {
        fn shared_across_threads<T: Send + Sync>() {}
        shared_across_threads::<ResidentApp>();
        shared_across_threads::<Model>();
        shared_across_threads::<Event>();
        shared_across_threads::<ViewModel>();
    }
}
