//! Store mode: the app store staff use at the till, a crux_core 0.20 `App` of its own beside
//! the resident app (`crate::app`), sharing its HTTP, cache and text helpers. Pure: no I/O and
//! no clock; every side effect is an effect request (`effects::Effect`) that the bindings carry
//! out.
//!
//! Journeys: log in; type an amount and show its amount code for the resident to scan; scan a
//! resident's code and charge it exactly once; watch payments land live (「¥1,200
//! 受け取りました」); read today's sales; refund a payment in full or in part.
//!
//! Effects, and who carries them out:
//! - `Render`: call `view()` and redraw. Shell.
//! - `Http`, `Cache`, `Timer`, `Random`: exactly as for the resident app (see `crate::app`).
//!   The pending charge is written to the cache before it is sent. Bindings.
//! - `Camera(ScanRequest)` → `ScanOutcome`: read the resident's code. Shell (or the shell's own
//!   scanner sends `Event::CodeScanned`).
//! - `Feed(effects::FeedRequest)` → many `effects::FeedUpdate`s: the server-sent event stream
//!   of the store's payments. Bindings. The app reconnects after a drop (with a growing
//!   `Timer` delay), reloads today's sales on every (re)connection to catch up, and shows each
//!   payment once however often it is delivered.

mod charge;
mod effects;
mod feed;
mod messages;
mod model;
mod sales;
mod session;
mod view;

#[cfg(test)]
mod testing;

use crux_core::Command;

use crate::app::{ApiResult, ScanOutcome};
use crate::protocol::{RefundReceipt, SessionCreated, StoreChargeReceipt, StoreCode, StoreSales};

pub use effects::{Effect, FeedRequest, FeedUpdate};
pub use model::Model;
pub use session::{PENDING_CHARGE, SESSION, STORE_CODE};
pub use view::{
    AmountCodeView, ChargeView, FeedLineView, RefundView, SaleLineView, ScreenView, TillView,
    TodayView, ViewModel,
};

/// What store staff (or the shell on their behalf) did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The app was launched. `server_url` is the server's origin; `device_name` names the till
    /// in the store's device list.
    Started {
        server_url: String,
        device_name: String,
    },
    LoginSubmitted {
        login: String,
        password: String,
    },
    LogoutTapped,
    /// Pull to refresh: today's sales again.
    RefreshRequested,
    /// "もう一度ためす" on the alert.
    RetryTapped,
    AlertDismissed,

    /// The till's amount field as typed (half- or full-width digits, commas allowed).
    AmountEntered(String),
    /// Show the amount code for the typed amount (the resident scans it).
    AmountCodeTapped,
    /// Back from the amount code to the till.
    AmountCodeClosed,
    /// Scan the resident's code and charge the typed amount.
    ScanTapped,
    /// A QR code was read (from `Effect::Camera`, or by the shell's own scanner).
    CodeScanned(String),
    ScanCancelled,
    /// The charge's result was seen; the till is ready for the next one.
    ChargeDoneTapped,

    /// Refund a payment of today's list.
    RefundOpened {
        payment_id: i64,
    },
    RefundAmountEntered(String),
    RefundReasonEntered(String),
    RefundConfirmed,
    RefundCancelled,

    /// Answers to the app's own effects. Shells never send these.
    Internal(Internal),
}

/// Answers to effects, routed back into `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Internal {
    CacheLoaded(session::Stored),
    SessionCreated(ApiResult<SessionCreated>),
    StoreCodeFetched(ApiResult<StoreCode>),
    Scanned(ScanOutcome),
    ChargeKeyDrawn(Vec<u8>),
    PendingChargeSaved {
        key: String,
        stored: bool,
    },
    ChargeAnswered {
        key: String,
        result: ApiResult<StoreChargeReceipt>,
    },
    ChargeRetryDue {
        key: String,
    },
    Feed {
        generation: u64,
        update: FeedUpdate,
    },
    FeedReconnectDue {
        generation: u64,
    },
    SalesFetched(ApiResult<StoreSales>),
    RefundKeyDrawn(Vec<u8>),
    RefundAnswered {
        key: String,
        result: ApiResult<RefundReceipt>,
    },
}

/// The store app.
#[derive(Debug, Default)]
pub struct StoreApp;

impl crux_core::App for StoreApp {
    type Event = Event;
    type Model = model::Model;
    type ViewModel = ViewModel;
    type Effect = Effect;

    fn update(&self, event: Event, model: &mut model::Model) -> Command<Effect, Event> {
        match event {
            Event::Started {
                server_url,
                device_name,
            } => session::start(model, &server_url, device_name),
            Event::LoginSubmitted { login, password } => session::log_in(model, login, password),
            Event::LogoutTapped => session::log_out(model),
            Event::RefreshRequested => sales::fetch_today(model),
            Event::RetryTapped => retry(model),
            Event::AlertDismissed => {
                model.alert = None;
                render()
            }

            Event::AmountEntered(text) => charge::amount_entered(model, text),
            Event::AmountCodeTapped => charge::show_amount_code(model),
            Event::AmountCodeClosed => charge::close_amount_code(model),
            Event::ScanTapped => charge::start_scan(model),
            Event::CodeScanned(payload) => charge::code_scanned(model, payload),
            Event::ScanCancelled => charge::scan_cancelled(model),
            Event::ChargeDoneTapped => charge::done_seen(model),

            Event::RefundOpened { payment_id } => sales::open_refund(model, payment_id),
            Event::RefundAmountEntered(text) => sales::refund_amount_entered(model, text),
            Event::RefundReasonEntered(text) => sales::refund_reason_entered(model, text),
            Event::RefundConfirmed => sales::confirm_refund(model),
            Event::RefundCancelled => sales::cancel_refund(model),

            Event::Internal(answer) => answered(answer, model),
        }
    }

    fn view(&self, model: &model::Model) -> ViewModel {
        view::view(model)
    }
}

fn answered(answer: Internal, model: &mut model::Model) -> Command<Effect, Event> {
    match answer {
        Internal::CacheLoaded(stored) => session::cache_loaded(model, stored),
        Internal::SessionCreated(result) => session::session_created(model, result),
        Internal::StoreCodeFetched(result) => session::store_code_fetched(model, result),
        Internal::Scanned(outcome) => charge::scanned(model, outcome),
        Internal::ChargeKeyDrawn(bytes) => charge::key_drawn(model, &bytes),
        Internal::PendingChargeSaved { key, stored } => charge::pending_saved(model, &key, stored),
        Internal::ChargeAnswered { key, result } => charge::answered(model, &key, result),
        Internal::ChargeRetryDue { key } => charge::retry_due(model, &key),
        Internal::Feed { generation, update } => feed::updated(model, generation, update),
        Internal::FeedReconnectDue { generation } => feed::reconnect_due(model, generation),
        Internal::SalesFetched(result) => sales::today_fetched(model, result),
        Internal::RefundKeyDrawn(bytes) => sales::refund_key_drawn(model, &bytes),
        Internal::RefundAnswered { key, result } => sales::refund_answered(model, &key, result),
    }
}

/// "もう一度ためす": do again what failed.
fn retry(model: &mut model::Model) -> Command<Effect, Event> {
    let Some(retry) = model.alert.take().and_then(|alert| alert.retry) else {
        return render();
    };
    match retry {
        model::Retry::Setup => session::set_up(model),
        model::Retry::SendCharge => charge::resend_now(model),
        model::Retry::SendRefund => sales::send_refund(model),
        model::Retry::Sales => sales::fetch_today(model),
    }
}

fn render() -> Command<Effect, Event> {
    crux_core::render::render()
}

fn internal(answer: Internal) -> Event {
    Event::Internal(answer)
}

/// Random bytes as lower-case hex (idempotency keys).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_app_can_be_shared_with_the_bindings_threads() {
        fn shared_across_threads<T: Send + Sync>() {}
        shared_across_threads::<StoreApp>();
        shared_across_threads::<model::Model>();
        shared_across_threads::<Event>();
        shared_across_threads::<ViewModel>();
    }
}
