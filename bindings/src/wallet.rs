//! The `Wallet` object and the loop that runs the resident app's effects.
//!
//! Owns the `crux_core::Core`, and decides for each effect who carries it out: the bindings in
//! Rust (HTTP, cache, clock, timer, random bytes, and the software device key when the shell
//! asked for it), or the shell through [`WalletShell`] (render, camera, the hardware device key,
//! notifications). Platform requests are parked under a request id until the shell answers
//! with `resolve_scan` / `resolve_device_key`.
//!
//! Threads: `dispatch` and the `resolve_*` calls run the app and the quick local effects
//! (SQLite, clock, random) on the caller's thread and return; HTTP and timers run on the
//! wallet's own tokio runtime and resolve later from its threads. So `WalletShell` methods
//! may be called on any thread, and a shell hops to its UI thread before drawing. No lock is
//! held while a shell method runs, so a shell may call back into the wallet from inside one.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use chiiki_core::app::{self, Effect, ResidentApp, ScanRequest};
use crux_core::{Core, Request};

use crate::{
    DeviceKeyRequest, DeviceKeyResponse, Event, Notification, ScanOutcome, ViewModel, WalletError,
    cache::{self, Cache},
    device_key::SoftwareDeviceKey,
    local::{self, EffectLoop, Local},
};

/// What the shell implements: drawing and the requests only the platform can carry out.
///
/// Methods may be called on any thread (see the module header). Each `request_id` is answered
/// exactly once, with the matching `Wallet.resolve_*` method, from any thread, at any later
/// time (an answer may also be given from inside the call).
#[uniffi::export(foreign)]
pub trait WalletShell: Send + Sync {
    /// The view model changed: call `Wallet.view()` and redraw.
    fn render(&self);

    /// Open the camera and read one QR code; answer with `Wallet.resolve_scan(request_id, …)`.
    /// (A shell with its own scanner may instead send `Event.CodeScanned`.)
    fn open_camera(&self, request_id: u64);

    /// Use the device's P-256 key in the Secure Enclave / Android Keystore (creating it on
    /// first use); answer with `Wallet.resolve_device_key(request_id, …)`. Only called when the
    /// wallet was made with `DeviceKeyStore.Platform`.
    fn use_device_key(&self, request_id: u64, request: DeviceKeyRequest);

    /// Show a local notification (a payment that was confirmed only after it had to be re-sent,
    /// when the resident may have put the phone away).
    fn show_notification(&self, notification: Notification);
}

/// Where the device key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKeyStore {
    /// The platform's hardware key store, through `WalletShell.use_device_key` (phones).
    Platform,
    /// A software P-256 key kept in the data directory, handled by the bindings (the terminal
    /// wallet, tests on a JVM). Only as private as the data directory.
    Software,
}

/// How the shell sets up the wallet.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WalletConfig {
    /// A private directory of the app's own (created if missing): the offline cache, and the
    /// software device key when there is one.
    pub data_dir: String,
    pub device_key: DeviceKeyStore,
    /// The longest one HTTP exchange with the server may take before it counts as lost.
    #[uniffi(default = 30)]
    pub request_timeout_secs: u32,
}

/// The resident app, as a shell sees it: send events, read the view model.
#[derive(uniffi::Object)]
pub struct Wallet {
    engine: Arc<Engine>,
    /// Held so that HTTP and timers keep running; shut down (without waiting) with the wallet.
    _runtime: local::OwnedRuntime,
}

#[uniffi::export]
impl Wallet {
    /// Open the wallet's data directory and start its background runtime. Send
    /// `Event.Started` next.
    #[uniffi::constructor]
    pub fn new(
        config: WalletConfig,
        shell: Arc<dyn WalletShell>,
    ) -> Result<Arc<Self>, WalletError> {
        let opened = local::open(
            &config.data_dir,
            cache::FILE_NAME,
            config.request_timeout_secs,
        )?;
        let software_key = match config.device_key {
            DeviceKeyStore::Platform => None,
            DeviceKeyStore::Software => Some(SoftwareDeviceKey::in_dir(&opened.data_dir)),
        };
        let engine = Arc::new(Engine {
            core: Core::new(),
            shell,
            cache: opened.cache,
            local: opened.local,
            software_key,
            waiting: Mutex::new(Waiting::default()),
            next_request_id: AtomicU64::new(1),
        });
        Ok(Arc::new(Wallet {
            engine,
            _runtime: opened.runtime,
        }))
    }

    /// Send what the resident did. Returns once the app has taken it in; renders follow
    /// through `WalletShell.render`.
    pub fn dispatch(&self, event: Event) -> Result<(), WalletError> {
        let event = app::Event::try_from(event)?;
        let effects = self.engine.core.process_event(event);
        self.engine.run(effects);
        Ok(())
    }

    /// What the screens draw now.
    pub fn view(&self) -> ViewModel {
        self.engine.core.view().into()
    }

    /// Answer `WalletShell.open_camera`.
    pub fn resolve_scan(&self, request_id: u64, outcome: ScanOutcome) -> Result<(), WalletError> {
        let mut request = self
            .engine
            .waiting()
            .scans
            .remove(&request_id)
            .ok_or(WalletError::UnknownRequest { request_id })?;
        let effects = self.engine.resolve(&mut request, outcome.into());
        self.engine.run(effects);
        Ok(())
    }

    /// Answer `WalletShell.use_device_key`.
    pub fn resolve_device_key(
        &self,
        request_id: u64,
        response: DeviceKeyResponse,
    ) -> Result<(), WalletError> {
        let mut request = self
            .engine
            .waiting()
            .device_keys
            .remove(&request_id)
            .ok_or(WalletError::UnknownRequest { request_id })?;
        let effects = self.engine.resolve(&mut request, response.into());
        self.engine.run(effects);
        Ok(())
    }

    /// How many HTTP exchanges the wallet is carrying out now. Shells need not look: it is for
    /// the terminal wallet and tests, which wait for the app to be quiet before they read. Ask
    /// before `view()`: when this is 0, a view read afterwards includes every answer.
    pub fn requests_in_flight(&self) -> u32 {
        self.engine.local.requests_in_flight()
    }
}

/// Platform requests waiting for the shell's answer.
#[derive(Default)]
struct Waiting {
    scans: HashMap<u64, Request<ScanRequest>>,
    device_keys: HashMap<u64, Request<app::DeviceKeyRequest>>,
}

/// Everything the effect loop needs; shared with the tasks that finish HTTP and timers.
struct Engine {
    core: Core<ResidentApp>,
    shell: Arc<dyn WalletShell>,
    cache: Cache,
    local: Local,
    software_key: Option<SoftwareDeviceKey>,
    waiting: Mutex<Waiting>,
    next_request_id: AtomicU64,
}

impl Engine {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // The maps stay consistent under a panic (single inserts and removes).
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keep a platform request under a new id until the shell answers it.
    fn park(&self, keep: impl FnOnce(&mut Waiting, u64)) -> u64 {
        let id = self.next_request_id.fetch_add(1, Ordering::SeqCst);
        keep(&mut self.waiting(), id);
        id
    }
}

impl EffectLoop for Engine {
    type App = ResidentApp;

    fn core(&self) -> &Core<ResidentApp> {
        &self.core
    }

    fn local(&self) -> &Local {
        &self.local
    }

    /// Carry out `effects` and whatever they lead to, until only work that finishes later
    /// (HTTP, timers, the shell's answers) is left. Renders are folded into one at the end.
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
                Effect::Clock(mut request) => {
                    queue.extend(self.resolve(&mut request, chrono::Utc::now()));
                }
                Effect::Random(mut request) => {
                    let output = self.local.random_bytes(request.operation.len);
                    queue.extend(self.resolve(&mut request, output));
                }
                Effect::Http(request) => local::spawn_http(self, request),
                Effect::Timer(request) => local::spawn_timer(self, request),
                Effect::Camera(request) => {
                    let id = self.park(|waiting, id| {
                        waiting.scans.insert(id, request);
                    });
                    self.shell.open_camera(id);
                }
                Effect::DeviceKey(mut request) => match &self.software_key {
                    Some(key) => {
                        let output = key.answer(&request.operation);
                        queue.extend(self.resolve(&mut request, output));
                    }
                    None => {
                        let asked = DeviceKeyRequest::from(request.operation.clone());
                        let id = self.park(|waiting, id| {
                            waiting.device_keys.insert(id, request);
                        });
                        self.shell.use_device_key(id, asked);
                    }
                },
                Effect::Notify(request) => {
                    self.shell.show_notification(request.operation.into());
                }
            }
        }
        if render {
            self.shell.render();
        }
    }
}
