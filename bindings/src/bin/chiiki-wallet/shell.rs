//! The terminal's side of the facade: a `WalletShell` with no camera (the code is given on the
//! command line and sent as `Event::CodeScanned`), the bindings' software device key, and
//! notifications printed as lines. Also the waiting a one-shot command needs: until the app is
//! quiet, or until the view shows what the command waits for.

use std::{
    sync::{Arc, Condvar, Mutex, PoisonError},
    time::{Duration, Instant},
};

use chiiki_ffi::{
    DeviceKeyRequest, DeviceKeyStore, Event, Notification, ScanOutcome, ViewModel, Wallet,
    WalletConfig, WalletError, WalletShell,
};

/// How long a command waits for the server before it gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Renders counted, so that a waiting command wakes up when the view may have changed.
#[derive(Default)]
struct Terminal {
    renders: Mutex<u64>,
    changed: Condvar,
    /// Set once the wallet exists, so that the camera request can be answered.
    wallet: Mutex<Option<std::sync::Weak<Wallet>>>,
}

impl WalletShell for Terminal {
    fn render(&self) {
        *self.renders.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    fn open_camera(&self, request_id: u64) {
        // A terminal has no camera: the code comes in with `pay --code`.
        let wallet = self
            .wallet
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(std::sync::Weak::upgrade);
        if let Some(wallet) = wallet {
            let _ = wallet.resolve_scan(request_id, ScanOutcome::Unavailable);
        }
    }

    fn use_device_key(&self, _request_id: u64, _request: DeviceKeyRequest) {
        // Never called: the wallet is made with the software key, which the bindings answer.
    }

    fn show_notification(&self, notification: Notification) {
        eprintln!("{}: {}", notification.title, notification.body);
    }
}

/// One running wallet, started against `server`.
pub struct Session {
    pub wallet: Arc<Wallet>,
    terminal: Arc<Terminal>,
}

impl Session {
    /// Open the data directory, start the app and wait for its first refresh.
    pub fn start(data_dir: &str, server: &str) -> Result<Self, WalletError> {
        let terminal = Arc::new(Terminal::default());
        let wallet = Wallet::new(
            WalletConfig {
                data_dir: data_dir.to_owned(),
                device_key: DeviceKeyStore::Software,
                request_timeout_secs: 30,
            },
            terminal.clone(),
        )?;
        *terminal
            .wallet
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::downgrade(&wallet));
        let session = Session { wallet, terminal };
        session.send(Event::Started {
            server_url: server.to_owned(),
            device_name: device_name(),
        })?;
        session.settle();
        Ok(session)
    }

    pub fn send(&self, event: Event) -> Result<(), WalletError> {
        self.wallet.dispatch(event)
    }

    pub fn view(&self) -> ViewModel {
        self.wallet.view()
    }

    /// Wait until no HTTP exchange is in flight (or `PATIENCE` has passed).
    pub fn settle(&self) {
        self.wait_until(|_| true);
    }

    /// Wait until the app is quiet and `done` holds for the view, or `PATIENCE` has passed;
    /// gives the last view either way.
    pub fn wait_until(&self, done: impl Fn(&ViewModel) -> bool) -> ViewModel {
        let deadline = Instant::now() + PATIENCE;
        let mut renders = self
            .terminal
            .renders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            // Quiet first, then the view: read the other way round, a view taken just before
            // the last answer arrived would pass for the settled one.
            let quiet = self.wallet.requests_in_flight() == 0;
            let view = self.wallet.view();
            let now = Instant::now();
            if (quiet && done(&view)) || now >= deadline {
                return view;
            }
            // Renders wake us early; the timeout covers work that ends without one.
            let wait = (deadline - now).min(Duration::from_millis(50));
            renders = self
                .terminal
                .changed
                .wait_timeout(renders, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("chiiki-wallet ({host})"),
        None => "chiiki-wallet".to_owned(),
    }
}
