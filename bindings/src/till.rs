//! Store mode: the `StoreTill` object that store staff's devices (and `chiiki-wallet store`)
//! use, beside the resident `Wallet`, over `chiiki_core::store::StoreApp`.
//!
//! Runs HTTP, the cache (its own SQLite file), timers, random bytes and the live feed of
//! payments (server-sent events, `feed.rs`) in Rust; the shell draws and scans
//! ([`StoreShell`]). Types mirror the core's field by field; no wording happens here.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use chiiki_core::{
    app::ScanRequest,
    store::{self, Effect, StoreApp},
};
use crux_core::{Core, Request};

use crate::{
    AlertView, ScanOutcome, WalletError,
    cache::Cache,
    feed,
    local::{self, EffectLoop, Local},
};

/// The store till's cache file in the data directory (apart from the resident wallet's).
const CACHE_FILE: &str = "store-cache.sqlite3";

/// What a store shell implements: drawing and the camera.
#[uniffi::export(foreign)]
pub trait StoreShell: Send + Sync {
    /// The view model changed: call `StoreTill.view()` and redraw.
    fn render(&self);
    /// Open the camera for the resident's code; answer with `StoreTill.resolve_scan`.
    fn open_camera(&self, request_id: u64);
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreTillConfig {
    /// A private directory of the app's own (created if missing) for the offline cache.
    pub data_dir: String,
    #[uniffi(default = 30)]
    pub request_timeout_secs: u32,
}

/// What store staff did. Mirrors `chiiki_core::store::Event` without its internal answers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum StoreEvent {
    Started {
        server_url: String,
        device_name: String,
    },
    LoginSubmitted {
        login: String,
        password: String,
    },
    LogoutTapped,
    RefreshRequested,
    RetryTapped,
    AlertDismissed,
    AmountEntered {
        text: String,
    },
    AmountCodeTapped,
    AmountCodeClosed,
    ScanTapped,
    CodeScanned {
        payload: String,
    },
    ScanCancelled,
    ChargeDoneTapped,
    RefundOpened {
        payment_id: i64,
    },
    RefundAmountEntered {
        text: String,
    },
    RefundReasonEntered {
        text: String,
    },
    RefundConfirmed,
    RefundCancelled,
}

impl From<StoreEvent> for store::Event {
    fn from(event: StoreEvent) -> Self {
        use store::Event as E;
        match event {
            StoreEvent::Started {
                server_url,
                device_name,
            } => E::Started {
                server_url,
                device_name,
            },
            StoreEvent::LoginSubmitted { login, password } => E::LoginSubmitted { login, password },
            StoreEvent::LogoutTapped => E::LogoutTapped,
            StoreEvent::RefreshRequested => E::RefreshRequested,
            StoreEvent::RetryTapped => E::RetryTapped,
            StoreEvent::AlertDismissed => E::AlertDismissed,
            StoreEvent::AmountEntered { text } => E::AmountEntered(text),
            StoreEvent::AmountCodeTapped => E::AmountCodeTapped,
            StoreEvent::AmountCodeClosed => E::AmountCodeClosed,
            StoreEvent::ScanTapped => E::ScanTapped,
            StoreEvent::CodeScanned { payload } => E::CodeScanned(payload),
            StoreEvent::ScanCancelled => E::ScanCancelled,
            StoreEvent::ChargeDoneTapped => E::ChargeDoneTapped,
            StoreEvent::RefundOpened { payment_id } => E::RefundOpened { payment_id },
            StoreEvent::RefundAmountEntered { text } => E::RefundAmountEntered(text),
            StoreEvent::RefundReasonEntered { text } => E::RefundReasonEntered(text),
            StoreEvent::RefundConfirmed => E::RefundConfirmed,
            StoreEvent::RefundCancelled => E::RefundCancelled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreViewModel {
    pub screen: StoreScreenView,
    pub alert: Option<AlertView>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum StoreScreenView {
    Login { busy: bool },
    Till { view: StoreTillView },
    AmountCode { view: StoreAmountCodeView },
    Refund { view: StoreRefundView },
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreTillView {
    pub staff_name: String,
    pub amount_text: String,
    pub charge: Option<StoreChargeView>,
    pub today: StoreTodayView,
    /// Newest first: 「¥1,200 受け取りました」.
    pub feed: Vec<StoreFeedLineView>,
    pub payments: Vec<StoreSaleLineView>,
    pub feed_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreChargeView {
    pub message: String,
    pub scanning: bool,
    pub confirming: bool,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreTodayView {
    pub payment_count: i64,
    pub gross: String,
    pub refunds: String,
    pub net: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreFeedLineView {
    pub payment_id: i64,
    pub message: String,
    pub time: String,
    pub refund: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreSaleLineView {
    pub payment_id: i64,
    pub amount: String,
    pub refunded: Option<String>,
    pub time: String,
    pub refundable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreAmountCodeView {
    pub amount: String,
    /// The QR code's text; draw it as a QR code.
    pub payload: String,
    pub caption: String,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreRefundView {
    pub payment_id: i64,
    pub paid: String,
    pub refunded: String,
    pub refundable: String,
    pub amount_text: String,
    pub reason: String,
    pub sending: bool,
}

impl From<store::ViewModel> for StoreViewModel {
    fn from(view: store::ViewModel) -> Self {
        let screen = match view.screen {
            store::ScreenView::Login { busy } => StoreScreenView::Login { busy },
            store::ScreenView::Till(t) => StoreScreenView::Till {
                view: StoreTillView {
                    staff_name: t.staff_name,
                    amount_text: t.amount_text,
                    charge: t.charge.map(|c| StoreChargeView {
                        message: c.message,
                        scanning: c.scanning,
                        confirming: c.confirming,
                        done: c.done,
                    }),
                    today: StoreTodayView {
                        payment_count: t.today.payment_count,
                        gross: t.today.gross,
                        refunds: t.today.refunds,
                        net: t.today.net,
                        summary: t.today.summary,
                    },
                    feed: t
                        .feed
                        .into_iter()
                        .map(|l| StoreFeedLineView {
                            payment_id: l.payment_id,
                            message: l.message,
                            time: l.time,
                            refund: l.refund,
                        })
                        .collect(),
                    payments: t
                        .payments
                        .into_iter()
                        .map(|p| StoreSaleLineView {
                            payment_id: p.payment_id,
                            amount: p.amount,
                            refunded: p.refunded,
                            time: p.time,
                            refundable: p.refundable,
                        })
                        .collect(),
                    feed_note: t.feed_note,
                },
            },
            store::ScreenView::AmountCode(c) => StoreScreenView::AmountCode {
                view: StoreAmountCodeView {
                    amount: c.amount,
                    payload: c.payload,
                    caption: c.caption,
                },
            },
            store::ScreenView::Refund(r) => StoreScreenView::Refund {
                view: StoreRefundView {
                    payment_id: r.payment_id,
                    paid: r.paid,
                    refunded: r.refunded,
                    refundable: r.refundable,
                    amount_text: r.amount_text,
                    reason: r.reason,
                    sending: r.sending,
                },
            },
        };
        StoreViewModel {
            screen,
            alert: view.alert.map(|a| AlertView {
                message: a.message,
                retry_label: a.retry_label,
            }),
        }
    }
}

/// The store app, as a shell sees it: send events, read the view model.
#[derive(uniffi::Object)]
pub struct StoreTill {
    engine: Arc<Engine>,
    _runtime: local::OwnedRuntime,
}

#[uniffi::export]
impl StoreTill {
    /// Open the data directory and start the background runtime. Send `StoreEvent.Started`
    /// next.
    #[uniffi::constructor]
    pub fn new(
        config: StoreTillConfig,
        shell: Arc<dyn StoreShell>,
    ) -> Result<Arc<Self>, WalletError> {
        let opened = local::open(&config.data_dir, CACHE_FILE, config.request_timeout_secs)?;
        let feed_client = feed::client().map_err(|e| WalletError::Startup {
            reason: e.to_string(),
        })?;
        let engine = Arc::new(Engine {
            core: Core::new(),
            shell,
            cache: opened.cache,
            local: opened.local,
            feed_client,
            scans: Mutex::new(HashMap::new()),
            next_request_id: AtomicU64::new(1),
        });
        Ok(Arc::new(StoreTill {
            engine,
            _runtime: opened.runtime,
        }))
    }

    pub fn dispatch(&self, event: StoreEvent) {
        let effects = self.engine.core.process_event(event.into());
        self.engine.run(effects);
    }

    pub fn view(&self) -> StoreViewModel {
        self.engine.core.view().into()
    }

    /// Answer `StoreShell.open_camera`.
    pub fn resolve_scan(&self, request_id: u64, outcome: ScanOutcome) -> Result<(), WalletError> {
        let mut request = self
            .engine
            .scans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&request_id)
            .ok_or(WalletError::UnknownRequest { request_id })?;
        let effects = self.engine.resolve(&mut request, outcome.into());
        self.engine.run(effects);
        Ok(())
    }

    /// HTTP exchanges under way (the live feed not counted), for the terminal wallet and
    /// tests: ask before `view()`.
    pub fn requests_in_flight(&self) -> u32 {
        self.engine.local.requests_in_flight()
    }
}

struct Engine {
    core: Core<StoreApp>,
    shell: Arc<dyn StoreShell>,
    cache: Cache,
    local: Local,
    feed_client: reqwest::Client,
    scans: Mutex<HashMap<u64, Request<ScanRequest>>>,
    next_request_id: AtomicU64,
}

impl EffectLoop for Engine {
    type App = StoreApp;

    fn core(&self) -> &Core<StoreApp> {
        &self.core
    }

    fn local(&self) -> &Local {
        &self.local
    }

    fn run(self: &Arc<Self>, effects: Vec<Effect>) {
        let mut queue = VecDeque::from(effects);
        let mut render = false;
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Render(_) => render = true,
                Effect::Cache(mut request) => {
                    let output = self.cache.run(&request.operation);
                    queue.extend(self.resolve(&mut request, output));
                }
                Effect::Random(mut request) => {
                    let output = self.local.random_bytes(request.operation.len);
                    queue.extend(self.resolve(&mut request, output));
                }
                Effect::Http(request) => local::spawn_http(self, request),
                Effect::Timer(request) => local::spawn_timer(self, request),
                Effect::Feed(request) => feed::spawn(self, self.feed_client.clone(), request),
                Effect::Camera(request) => {
                    let id = self.next_request_id.fetch_add(1, Ordering::SeqCst);
                    self.scans
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id, request);
                    self.shell.open_camera(id);
                }
            }
        }
        if render {
            self.shell.render();
        }
    }
}
