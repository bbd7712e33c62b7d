//! The effects both apps (the resident `Wallet` and the store `StoreTill`) have carried out in
//! Rust the same way: HTTP with reqwest, timers, secure random bytes. Each facade owns its
//! `crux_core::Core` and its effect loop ([`EffectLoop`]); the work that finishes later (an HTTP
//! answer, a timer) resolves on the runtime's threads and feeds that loop.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use chiiki_core::app::TimerRequest;
use crux_core::{App, Core, Request, Resolvable};
use crux_http::protocol::HttpRequest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::{WalletError, cache::Cache, http};

/// What a facade opens when it is made: its data directory, its cache, its runtime.
pub struct Opened {
    pub data_dir: PathBuf,
    pub cache: Cache,
    pub runtime: OwnedRuntime,
    pub local: Local,
}

/// Open `data_dir` (created private if missing), the cache file `cache_file` in it, and a
/// runtime with an HTTP client whose exchanges last at most `timeout_secs`.
pub fn open(data_dir: &str, cache_file: &str, timeout_secs: u32) -> Result<Opened, WalletError> {
    let dir = PathBuf::from(data_dir);
    create_private_dir(&dir).map_err(|e| WalletError::DataDirectory {
        path: data_dir.to_owned(),
        reason: e.to_string(),
    })?;
    let cache = Cache::open(&dir.join(cache_file)).map_err(|e| WalletError::Cache {
        reason: e.to_string(),
    })?;
    let startup = |e: &dyn std::fmt::Display| WalletError::Startup {
        reason: e.to_string(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("chiiki-wallet")
        .enable_all()
        .build()
        .map_err(|e| startup(&e))?;
    let timeout = Duration::from_secs(u64::from(timeout_secs.max(1)));
    let client = http::client(timeout).map_err(|e| startup(&e))?;
    let local = Local::new(client, runtime.handle().clone());
    Ok(Opened {
        data_dir: dir,
        cache,
        runtime: OwnedRuntime(Mutex::new(Some(runtime))),
        local,
    })
}

/// A facade's runtime: held so that HTTP, timers and the feed keep running, and shut down
/// (without waiting) with the facade.
pub struct OwnedRuntime(Mutex<Option<tokio::runtime::Runtime>>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        // Never block the thread that lets go of the facade (often the UI or a GC thread):
        // work still running is abandoned, as when the app is closed.
        let runtime = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(runtime) = runtime {
            runtime.shutdown_background();
        }
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

/// A facade's effect loop: its core, and what to do with the effects an answer leads to.
pub trait EffectLoop: Send + Sync + 'static {
    type App: App;

    fn core(&self) -> &Core<Self::App>;
    fn local(&self) -> &Local;
    /// Carry out `effects` and whatever they lead to (on the caller's thread).
    fn run(self: &Arc<Self>, effects: Vec<<Self::App as App>::Effect>);

    fn resolve<Output>(
        &self,
        request: &mut impl Resolvable<Output>,
        output: Output,
    ) -> Vec<<Self::App as App>::Effect> {
        // Every request we resolve was made to be resolved once, and is resolved once (it is
        // taken out of where it waited, or handled where it arrived), so this cannot fail;
        // were it to, the answer has nowhere to go and dropping it is all that can be done.
        self.core().resolve(request, output).unwrap_or_default()
    }
}

/// What the Rust-side effects need: the HTTP client, the runtime, the random generator.
pub struct Local {
    pub client: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    rng: SystemRandom,
    /// HTTP exchanges under way (see `requests_in_flight` on the facades).
    requests_in_flight: AtomicU32,
}

impl Local {
    pub fn new(client: reqwest::Client, runtime: tokio::runtime::Handle) -> Self {
        Local {
            client,
            runtime,
            rng: SystemRandom::new(),
            requests_in_flight: AtomicU32::new(0),
        }
    }

    pub fn requests_in_flight(&self) -> u32 {
        self.requests_in_flight.load(Ordering::SeqCst)
    }

    pub fn random_bytes(&self, len: u32) -> Vec<u8> {
        let mut bytes = vec![0u8; len as usize];
        // The OS generator failing is not something to paper over with weaker bytes: the app
        // gets fewer bytes than it asked for and reports that it could not go on.
        match self.rng.fill(&mut bytes) {
            Ok(()) => bytes,
            Err(_) => Vec::new(),
        }
    }
}

/// Carry out an HTTP request on the runtime and feed its answer to `engine`'s loop.
pub fn spawn_http<L: EffectLoop>(engine: &Arc<L>, mut request: Request<HttpRequest>) {
    // Counted before this call returns, and released only after what the answer led to has
    // been carried out: "none in flight" then really means the app is quiet.
    engine
        .local()
        .requests_in_flight
        .fetch_add(1, Ordering::SeqCst);
    let engine = Arc::clone(engine);
    let runtime = engine.local().runtime.clone();
    runtime.spawn(async move {
        let result = http::send(&engine.local().client, &request.operation).await;
        let follow_up = Arc::clone(&engine);
        // SQLite and the shell's render are blocking work: off the async workers.
        let _ = tokio::task::spawn_blocking(move || {
            let effects = follow_up.resolve(&mut request, result);
            follow_up.run(effects);
        })
        .await;
        engine
            .local()
            .requests_in_flight
            .fetch_sub(1, Ordering::SeqCst);
    });
}

/// Resolve a timer on the runtime once its time has come.
pub fn spawn_timer<L: EffectLoop>(engine: &Arc<L>, mut request: Request<TimerRequest>) {
    let engine = Arc::clone(engine);
    let wait = Duration::from_millis(request.operation.millis);
    let runtime = engine.local().runtime.clone();
    runtime.spawn(async move {
        tokio::time::sleep(wait).await;
        let _ = tokio::task::spawn_blocking(move || {
            let effects = engine.resolve(&mut request, ());
            engine.run(effects);
        })
        .await;
    });
}
