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
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use chiiki_core::app::{self, Effect, ResidentApp, ScanRequest};
use crux_core::{Core, Request, Resolvable};
use crux_http::protocol::HttpRequest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::{
    DeviceKeyRequest, DeviceKeyResponse, Event, Notification, ScanOutcome, ViewModel, WalletError,
    cache::{self, Cache},
    device_key::SoftwareDeviceKey,
    http,
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
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
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
        let data_dir = PathBuf::from(&config.data_dir);
        create_private_dir(&data_dir).map_err(|e| WalletError::DataDirectory {
            path: config.data_dir.clone(),
            reason: e.to_string(),
        })?;
        let cache =
            Cache::open(&data_dir.join(cache::FILE_NAME)).map_err(|e| WalletError::Cache {
                reason: e.to_string(),
            })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chiiki-wallet")
            .enable_all()
            .build()
            .map_err(|e| WalletError::Startup {
                reason: e.to_string(),
            })?;
        let timeout = Duration::from_secs(u64::from(config.request_timeout_secs.max(1)));
        let client = http::client(timeout).map_err(|e| WalletError::Startup {
            reason: e.to_string(),
        })?;
        let software_key = match config.device_key {
            DeviceKeyStore::Platform => None,
            DeviceKeyStore::Software => Some(SoftwareDeviceKey::in_dir(&data_dir)),
        };
        let engine = Arc::new(Engine {
            core: Core::new(),
            shell,
            cache,
            client,
            runtime: runtime.handle().clone(),
            rng: SystemRandom::new(),
            software_key,
            waiting: Mutex::new(Waiting::default()),
            next_request_id: AtomicU64::new(1),
            requests_in_flight: AtomicU32::new(0),
        });
        Ok(Arc::new(Wallet {
            engine,
            runtime: Mutex::new(Some(runtime)),
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
        self.engine.requests_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Wallet {
    fn drop(&mut self) {
        // Never block the thread that lets go of the wallet (often the UI or a GC thread):
        // requests still running are abandoned, as when the app is closed.
        let runtime = self
            .runtime
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
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
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    rng: SystemRandom,
    software_key: Option<SoftwareDeviceKey>,
    waiting: Mutex<Waiting>,
    next_request_id: AtomicU64,
    requests_in_flight: AtomicU32,
}

impl Engine {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        // The maps stay consistent under a panic (single inserts and removes).
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn resolve<Output>(
        &self,
        request: &mut impl Resolvable<Output>,
        output: Output,
    ) -> Vec<Effect> {
        // Every request we resolve was made to be resolved once, and is resolved once (it is
        // taken out of `waiting`, or handled where it arrived), so this cannot fail; were it
        // to, the answer has nowhere to go and dropping it is all that can be done.
        self.core.resolve(request, output).unwrap_or_default()
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
                    let output = self.random_bytes(request.operation.len);
                    queue.extend(self.resolve(&mut request, output));
                }
                Effect::Http(request) => self.spawn_http(request),
                Effect::Timer(request) => self.spawn_timer(request),
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

    /// Keep a platform request under a new id until the shell answers it.
    fn park(&self, keep: impl FnOnce(&mut Waiting, u64)) -> u64 {
        let id = self.next_request_id.fetch_add(1, Ordering::SeqCst);
        keep(&mut self.waiting(), id);
        id
    }

    fn random_bytes(&self, len: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; len as usize];
        // The OS generator failing is not something to paper over with weaker bytes: the app
        // gets fewer bytes than it asked for and reports that it could not go on.
        match self.rng.fill(&mut bytes) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        }
    }

    fn spawn_http(self: &Arc<Self>, mut request: Request<HttpRequest>) {
        // Counted before this call returns, and released only after what the answer led to
        // has been carried out: "none in flight" then really means the app is quiet.
        self.requests_in_flight.fetch_add(1, Ordering::SeqCst);
        let engine = Arc::clone(self);
        self.runtime.spawn(async move {
            let result = http::send(&engine.client, &request.operation).await;
            let follow_up = Arc::clone(&engine);
            // SQLite and the shell's render are blocking work: off the async workers.
            let _ = tokio::task::spawn_blocking(move || {
                let effects = follow_up.resolve(&mut request, result);
                follow_up.run(effects);
            })
            .await;
            engine.requests_in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn spawn_timer(self: &Arc<Self>, mut request: Request<app::TimerRequest>) {
        let engine = Arc::clone(self);
        let wait = Duration::from_millis(request.operation.millis);
        self.runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            let _ = tokio::task::spawn_blocking(move || {
                let effects = engine.resolve(&mut request, ());
                engine.run(effects);
            })
            .await;
        });
    }
}

/// Create the data directory (and parents); on Unix only its owner may enter it.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}
