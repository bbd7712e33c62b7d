//! The resident app's state. What is worth keeping across restarts is written to the cache
//! (see `cache`); the rest lives only as long as the app runs. Nothing here is formatted for a
//! screen: that is `view`'s job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use crux_http::Url;
use serde::{Deserialize, Serialize};

use crate::{
    Yen,
    protocol::{
        Balance, Industry, MySale, PaymentReceipt, PaymentRequest, ProgrammeInfo, StoreSummary,
        Transaction,
    },
};

use super::api::{Connection, is_header_safe};

#[derive(Debug, Default)]
pub struct Model {
    pub server: Option<Url>,
    pub device_name: String,
    pub screen: Screen,
    pub session: Option<Session>,
    pub programme: Option<ProgrammeInfo>,
    pub balance: Option<Balance>,
    pub history: History,
    pub directory: Directory,
    pub store_filter: StoreFilter,
    pub account: AccountForms,
    pub pay: PayStep,
    pub pending: Option<PendingPayment>,
    pub delivery: Delivery,
    pub my_code: MyCode,
    pub sale: SaleState,
    pub points: super::points::PointsState,
    /// The last refresh failed because the server could not be reached.
    pub offline: bool,
    pub alert: Option<Alert>,
}

impl Model {
    /// How to reach the server as the signed-in resident (or anonymously).
    pub fn connection(&self) -> Option<Connection> {
        self.server.clone().map(|base| Connection {
            base,
            token: self.session.as_ref().map(|s| s.token.clone()),
        })
    }

    pub fn signed_in(&self) -> bool {
        self.session.is_some()
    }

    /// Forget everything personal (logout, or a session the server no longer accepts).
    pub fn forget_resident(&mut self) {
        self.session = None;
        self.balance = None;
        self.history = History::default();
        self.pending = None;
        self.delivery = Delivery::default();
        self.pay = PayStep::Idle;
        self.my_code = MyCode::default();
        self.sale = SaleState::default();
        self.points = super::points::PointsState::default();
        self.offline = false;
        self.screen = Screen::Login;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Screen {
    #[default]
    Loading,
    Login,
    Registration,
    Home,
    History,
    Stores,
    Pay,
    MyCode,
    Sale,
    Points,
}

/// A signed-in device. Persisted under `cache::SESSION`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub device_id: i64,
    #[serde(default)]
    pub resident_id: Option<i64>,
    pub display_name: String,
}

impl Session {
    /// A session read back from the cache is used only if its token can go in a header.
    pub fn is_usable(&self) -> bool {
        is_header_safe(&self.token)
    }
}

/// The resident's history, newest first, without duplicates. Persisted under `cache::HISTORY`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub items: Vec<Transaction>,
    /// Where the next older page starts; `None` before the first fetch or after the last page.
    pub next_cursor: Option<String>,
    /// The oldest page has been fetched.
    pub complete: bool,
    #[serde(skip)]
    pub loading: bool,
}

/// The store directory as last synchronised. Persisted under `cache::DIRECTORY`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub stores: BTreeMap<i64, StoreSummary>,
    /// The server's `as_of` of the last sync: the `since` of the next one.
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFilter {
    pub query: String,
    pub industry: Option<Industry>,
    pub district: Option<String>,
}

/// Registration and login in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountForms {
    pub registration_errors: Vec<(super::FormField, String)>,
    pub login_error: Option<String>,
    /// Kept only until the server has answered the login.
    pub credentials: Option<Credentials>,
    /// Kept only until the server has answered, to send it again after a network failure.
    pub registration: Option<super::RegistrationForm>,
    pub busy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub login: String,
    pub password: String,
}

/// A store as the resident sees it before paying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreLabel {
    pub store_id: i64,
    pub name: String,
    pub district: String,
}

/// What the resident is about to pay, built from a scanned code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The scanned payload, sent as `store_code` so that the server checks it too.
    pub payload: String,
    pub store: StoreLabel,
    /// Set by an amount code; the resident cannot change it.
    pub fixed_amount: Option<Yen>,
    /// What the resident typed, as typed.
    pub amount_text: String,
    pub use_points: bool,
}

/// A code that was scanned and decoded, whose store is not yet known to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCode {
    pub payload: String,
    pub store_id: i64,
    pub amount: Option<Yen>,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PayStep {
    #[default]
    Idle,
    Scanning,
    /// The programme or the store is being looked up before anything else.
    CheckingCode {
        payload: String,
    },
    CheckingStore {
        code: ScannedCode,
    },
    EnteringAmount {
        order: Order,
    },
    EnteringPin {
        order: Order,
        amount: Yen,
    },
    /// The resident confirmed; the idempotency key is being drawn.
    DrawingKey {
        request: PaymentRequest,
        store: StoreLabel,
        amount_fixed: bool,
    },
    /// The payment is in `Model::pending` until the server answers.
    Confirming {
        store: StoreLabel,
        amount: Yen,
    },
    Done {
        receipt: PaymentReceipt,
    },
}

/// A payment the resident confirmed whose outcome the server has not told yet.
/// Persisted under `cache::PENDING_PAYMENT` before it is first sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPayment {
    pub idempotency_key: String,
    pub request: PaymentRequest,
    pub store: StoreLabel,
    /// The amount came from an amount code (the resident could not change it).
    #[serde(default)]
    pub amount_fixed: bool,
}

/// How the pending payment is getting through (not persisted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub in_flight: bool,
    pub attempts: u32,
}

/// The rotating resident code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MyCode {
    /// Bumped whenever the screen opens, so that timers of an earlier visit are ignored.
    pub generation: u64,
    pub shown: Option<ShownCode>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownCode {
    pub payload: String,
    pub svg: String,
    pub issued_at: DateTime<Utc>,
}

/// A message for the resident, and what "もう一度" does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub message: String,
    pub retry: Option<Retry>,
}

impl Alert {
    pub fn new(message: impl Into<String>) -> Self {
        Alert {
            message: message.into(),
            retry: None,
        }
    }

    pub fn with_retry(message: impl Into<String>, retry: Retry) -> Self {
        Alert {
            message: message.into(),
            retry: Some(retry),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Refresh,
    Register,
    Login,
    Scan,
    StoreLookup,
    SendPayment,
    MoreHistory,
    MyCode,
    /// Send the last application change or withdrawal again.
    SaleApplication,
    /// Send the additional-sale order again, with the same idempotency key.
    SaleOrder,
}

/// The premium set sale as the server last told it, and what the resident is doing there.
/// Not persisted: the sale screen always asks the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaleState {
    pub info: Option<MySale>,
    pub loading: bool,
    /// Something changed while the sale was being asked for: that answer may be stale.
    pub ask_again: bool,
    /// The number of sets picked on the screen; until the resident picks, the current
    /// application's (or 1).
    pub chosen: Option<i64>,
    /// An application change or withdrawal the server has not answered yet; kept after a
    /// failure that did not reach a decision, for "もう一度ためす".
    pub sending: Option<SaleAction>,
    pub in_flight: bool,
    /// What went through last, for the screen: `2セットのお申し込みを受け付けました。`
    pub notice: Option<String>,
    /// An additional-sale order the resident confirmed and the server has not decided.
    pub order: Option<PendingSaleOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleAction {
    Apply { sets: i64 },
    Withdraw,
}

/// Sets asked for in the additional sale. The key is drawn once and sent with every repeat, so
/// the server takes the order exactly once however often the answer is lost. Persisted under
/// `cache::PENDING_SALE_ORDER` before it is first sent, so a restart repeats it too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSaleOrder {
    pub sets: i64,
    /// `None` while the random bytes are being drawn.
    pub idempotency_key: Option<String>,
    #[serde(skip)]
    pub in_flight: bool,
}
