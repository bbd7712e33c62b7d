//! The facade as a shell meets it, without a server: the loop runs the cache and the clock in
//! Rust, hands camera requests to the shell and takes the answers back, and reports misuse
//! with errors whose message a developer can read.

use std::{
    net::TcpListener,
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use chiiki_ffi::{
    DeviceKeyRequest, DeviceKeyStore, Event, Notification, ScanOutcome, ScreenView, ViewModel,
    Wallet, WalletConfig, WalletError, WalletShell,
};

#[derive(Default)]
struct Recorder {
    renders: Mutex<u32>,
    cameras: Mutex<Vec<u64>>,
    key_requests: Mutex<Vec<(u64, DeviceKeyRequest)>>,
    changed: Condvar,
}

impl WalletShell for Recorder {
    fn render(&self) {
        *self.renders.lock().expect("lock") += 1;
        self.changed.notify_all();
    }
    fn open_camera(&self, request_id: u64) {
        self.cameras.lock().expect("lock").push(request_id);
    }
    fn use_device_key(&self, request_id: u64, request: DeviceKeyRequest) {
        self.key_requests
            .lock()
            .expect("lock")
            .push((request_id, request));
    }
    fn show_notification(&self, _notification: Notification) {}
}

/// An origin where nothing listens: every request fails at once, as with no signal.
fn nowhere() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("http://127.0.0.1:{port}")
}

fn wallet(dir: &tempfile::TempDir, keys: DeviceKeyStore) -> (Arc<Wallet>, Arc<Recorder>) {
    let shell = Arc::new(Recorder::default());
    let wallet = Wallet::new(
        WalletConfig {
            data_dir: dir.path().join("wallet").display().to_string(),
            device_key: keys,
            request_timeout_secs: 5,
        },
        shell.clone(),
    )
    .expect("the wallet opens");
    (wallet, shell)
}

fn wait_for(wallet: &Wallet, what: impl Fn(&ViewModel) -> bool) -> ViewModel {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Quiet first, then the view (the other order can read a view from before the end).
        let quiet = wallet.requests_in_flight() == 0;
        let view = wallet.view();
        if quiet && what(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "timed out; last view: {view:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_fresh_install_with_no_signal_asks_to_log_in_under_the_offline_banner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (wallet, shell) = wallet(&dir, DeviceKeyStore::Software);
    wallet
        .dispatch(Event::Started {
            server_url: nowhere(),
            device_name: "テスト端末".into(),
        })
        .expect("dispatch");
    let view = wait_for(&wallet, |v| v.offline_banner.is_some());
    assert!(matches!(view.screen, ScreenView::Login { .. }), "{view:?}");
    assert!(
        *shell.renders.lock().expect("lock") > 0,
        "the shell was told to draw"
    );
    assert!(
        dir.path().join("wallet").join("cache.sqlite3").exists(),
        "the cache lives in the data directory"
    );
}

#[test]
fn the_shell_answers_the_device_key_request_when_the_platform_holds_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (wallet, shell) = wallet(&dir, DeviceKeyStore::Platform);
    wallet
        .dispatch(Event::Started {
            server_url: nowhere(),
            device_name: "テスト端末".into(),
        })
        .expect("dispatch");
    wait_for(&wallet, |v| matches!(v.screen, ScreenView::Login { .. }));
    wallet
        .dispatch(Event::LoginSubmitted {
            login: "09012345678".into(),
            password: "secret-password".into(),
        })
        .expect("dispatch");
    let asked = shell.key_requests.lock().expect("lock").clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    let (id, request) = asked[0].clone();
    assert_eq!(request, DeviceKeyRequest::PublicKey);

    // The key store refuses: the app says so, and the same id cannot be answered twice.
    wallet
        .resolve_device_key(
            id,
            chiiki_ffi::DeviceKeyResponse::Unavailable {
                reason: "test".into(),
            },
        )
        .expect("the request was waiting");
    let view = wait_for(&wallet, |v| v.alert.is_some());
    assert!(view.alert.is_some_and(|a| !a.message.is_empty()));
    let again = wallet.resolve_device_key(
        id,
        chiiki_ffi::DeviceKeyResponse::PublicKey { sec1: vec![4; 65] },
    );
    assert_eq!(again, Err(WalletError::UnknownRequest { request_id: id }));
}

#[test]
fn misuse_is_reported_with_a_readable_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (wallet, shell) = wallet(&dir, DeviceKeyStore::Software);
    let error = wallet
        .resolve_scan(
            42,
            ScanOutcome::Scanned {
                payload: "x".into(),
            },
        )
        .expect_err("nothing asked for a scan");
    assert_eq!(
        error.to_string(),
        "no platform request 42 is waiting for an answer"
    );
    let error = wallet
        .dispatch(Event::IndustryChosen {
            code: Some("casino".into()),
        })
        .expect_err("not an industry");
    assert_eq!(error.to_string(), "\"casino\" is not an industry code");
    assert!(shell.cameras.lock().expect("lock").is_empty());
}

#[test]
fn a_data_directory_that_cannot_be_made_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("write");
    let result = Wallet::new(
        WalletConfig {
            data_dir: file.join("wallet").display().to_string(),
            device_key: DeviceKeyStore::Software,
            request_timeout_secs: 5,
        },
        Arc::new(Recorder::default()),
    );
    assert!(
        matches!(result, Err(WalletError::DataDirectory { .. })),
        "expected a data directory error"
    );
}
