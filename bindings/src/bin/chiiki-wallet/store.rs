//! `chiiki-wallet store …`: store mode in a terminal, over the `StoreTill` facade — log in,
//! show an amount code, charge a resident's code, follow payments live, today's sales,
//! refunds. The terminal has no camera: the resident's code comes in with `charge --code`.

use std::{
    io::Write,
    sync::{Arc, Condvar, Mutex, PoisonError, Weak},
    time::{Duration, Instant},
};

use chiiki_ffi::{
    ScanOutcome, StoreEvent, StoreScreenView, StoreShell, StoreTill, StoreTillConfig,
    StoreTillView, StoreViewModel, WalletError,
};
use clap::Subcommand;

use crate::CliError;

/// How long a command waits for the server before printing what it has.
const PATIENCE: Duration = Duration::from_secs(40);

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Sign this terminal in as store staff (e.g. S0001).
    Login {
        #[arg(long)]
        login: String,
        /// Asked on the terminal when not given.
        #[arg(long, env = "CHIIKI_WALLET_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Sign out and forget the store's data on this terminal.
    Logout,
    /// The amount code for AMOUNT yen, for the resident to scan.
    Code {
        #[arg(long)]
        amount: String,
    },
    /// Charge the resident whose code (its text) was scanned.
    Charge {
        #[arg(long)]
        code: String,
        #[arg(long)]
        amount: String,
    },
    /// Today's payments; with --follow, keep printing each one as it lands.
    Payments {
        #[arg(long)]
        follow: bool,
    },
    /// Today's sales: count and yen.
    Today,
    /// Refund a payment of today, in full or in part.
    Refund {
        #[arg(long)]
        payment: i64,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Default)]
struct Terminal {
    renders: Mutex<u64>,
    changed: Condvar,
    till: Mutex<Option<Weak<StoreTill>>>,
    /// What the "camera" reads: the code given with `charge --code`.
    code: Mutex<Option<String>>,
}

impl StoreShell for Terminal {
    fn render(&self) {
        *self.renders.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.changed.notify_all();
    }

    fn open_camera(&self, request_id: u64) {
        let till = self
            .till
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(Weak::upgrade);
        let code = self
            .code
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(till) = till {
            let outcome = match code {
                Some(payload) => ScanOutcome::Scanned { payload },
                None => ScanOutcome::Unavailable,
            };
            let _ = till.resolve_scan(request_id, outcome);
        }
    }
}

struct Session {
    till: Arc<StoreTill>,
    terminal: Arc<Terminal>,
}

impl Session {
    fn start(data_dir: &str, server: &str) -> Result<Self, WalletError> {
        let terminal = Arc::new(Terminal::default());
        let till = StoreTill::new(
            StoreTillConfig {
                data_dir: data_dir.to_owned(),
                request_timeout_secs: 30,
            },
            terminal.clone(),
        )?;
        *terminal.till.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::downgrade(&till));
        let session = Session { till, terminal };
        session.send(StoreEvent::Started {
            server_url: server.to_owned(),
            device_name: "chiiki-wallet".to_owned(),
        });
        session.wait_until(|_| true);
        Ok(session)
    }

    fn send(&self, event: StoreEvent) {
        self.till.dispatch(event);
    }

    /// Wait until the app is quiet and `done` holds, or `PATIENCE` has passed.
    fn wait_until(&self, done: impl Fn(&StoreViewModel) -> bool) -> StoreViewModel {
        let deadline = Instant::now() + PATIENCE;
        let mut renders = self
            .terminal
            .renders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            let quiet = self.till.requests_in_flight() == 0;
            let view = self.till.view();
            let now = Instant::now();
            if (quiet && done(&view)) || now >= deadline {
                return view;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            renders = self
                .terminal
                .changed
                .wait_timeout(renders, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The till, or why it is not shown.
    fn till(&self) -> Result<StoreTillView, CliError> {
        let view = self.till.view();
        match view.screen {
            StoreScreenView::Till { view } => Ok(view),
            StoreScreenView::Login { .. } => Err(CliError::Shown(
                "ログインしていません: `chiiki-wallet store login` を先に実行してください。".into(),
            )),
            _ => Err(shown(&view)),
        }
    }
}

fn shown(view: &StoreViewModel) -> CliError {
    CliError::Shown(
        view.alert
            .as_ref()
            .map(|a| a.message.clone())
            .unwrap_or_else(|| "うまくいきませんでした。".into()),
    )
}

fn alert_is_failure(view: &StoreViewModel) -> Result<(), CliError> {
    match &view.alert {
        Some(_) => Err(shown(view)),
        None => Ok(()),
    }
}

pub fn run(data_dir: &str, server: &str, command: StoreCommand) -> Result<(), CliError> {
    let session = Session::start(data_dir, server)?;
    match command {
        StoreCommand::Login { login, password } => {
            let password = crate::given_or_asked(password, "パスワード: ")?;
            session.send(StoreEvent::LoginSubmitted { login, password });
            let view =
                session.wait_until(|v| !matches!(v.screen, StoreScreenView::Login { busy: true }));
            let till = match view.screen {
                StoreScreenView::Till { view } => view,
                _ => return Err(shown(&view)),
            };
            println!("{} でログインしました。", till.staff_name);
            println!("{}", till.today.summary);
        }
        StoreCommand::Logout => {
            session.send(StoreEvent::LogoutTapped);
            alert_is_failure(&session.wait_until(|_| true))?;
            println!("ログアウトしました。");
        }
        StoreCommand::Code { amount } => {
            session.till()?;
            session.send(StoreEvent::AmountEntered { text: amount });
            session.send(StoreEvent::AmountCodeTapped);
            let view = session.till.view();
            let StoreScreenView::AmountCode { view: code } = &view.screen else {
                return Err(shown(&view));
            };
            println!("{} {}", code.amount, code.caption);
            println!("{}", code.payload);
        }
        StoreCommand::Charge { code, amount } => {
            session.till()?;
            *session
                .terminal
                .code
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(code);
            session.send(StoreEvent::AmountEntered { text: amount });
            session.send(StoreEvent::ScanTapped);
            let view = session.wait_until(|v| match &v.screen {
                StoreScreenView::Till { view } => {
                    v.alert.is_some() || view.charge.as_ref().is_none_or(|c| c.done)
                }
                _ => true,
            });
            match &view.screen {
                StoreScreenView::Till { view: till }
                    if till.charge.as_ref().is_some_and(|c| c.done) =>
                {
                    let charge = till.charge.as_ref().map(|c| c.message.clone());
                    println!("{}", charge.unwrap_or_default());
                    println!("{}", till.today.summary);
                }
                _ => return Err(shown(&view)),
            }
        }
        StoreCommand::Payments { follow } => {
            let till = session.wait_until(|_| true);
            let StoreScreenView::Till { view } = &till.screen else {
                return Err(session.till().err().unwrap_or_else(|| shown(&till)));
            };
            println!("{}", view.today.summary);
            let mut printed = Vec::new();
            for line in view.feed.iter().rev() {
                println!("{} {}", line.time, line.message);
                printed.push((line.payment_id, line.refund));
            }
            if follow {
                follow_feed(&session, printed);
            }
        }
        StoreCommand::Today => {
            let till = session.till()?;
            println!("{}", till.today.summary);
            println!(
                "売上 {} ／ 返金 {} ／ 差引 {}",
                till.today.gross, till.today.refunds, till.today.net
            );
            for line in &till.payments {
                let refunded = line.refunded.as_deref().unwrap_or("");
                println!(
                    "#{} {} {} {}",
                    line.payment_id, line.time, line.amount, refunded
                );
            }
        }
        StoreCommand::Refund {
            payment,
            amount,
            reason,
        } => {
            session.till()?;
            session.send(StoreEvent::RefundOpened {
                payment_id: payment,
            });
            if !matches!(session.till.view().screen, StoreScreenView::Refund { .. }) {
                return Err(CliError::Shown(format!(
                    "本日の支払い #{payment} が見つかりません。"
                )));
            }
            session.send(StoreEvent::RefundAmountEntered { text: amount });
            session.send(StoreEvent::RefundReasonEntered { text: reason });
            session.send(StoreEvent::RefundConfirmed);
            let view = session.wait_until(|v| match &v.screen {
                StoreScreenView::Refund { view } => !view.sending && v.alert.is_some(),
                _ => true,
            });
            let message = view
                .alert
                .as_ref()
                .map(|a| a.message.clone())
                .unwrap_or_default();
            if matches!(view.screen, StoreScreenView::Refund { .. }) {
                return Err(CliError::Shown(message));
            }
            println!("{message}");
        }
    }
    Ok(())
}

/// Print each new line of the live feed as it arrives, until the process is stopped.
fn follow_feed(session: &Session, mut printed: Vec<(i64, bool)>) {
    let mut renders = session
        .terminal
        .renders
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    loop {
        if let StoreScreenView::Till { view } = session.till.view().screen {
            for line in view.feed.iter().rev() {
                if !printed.contains(&(line.payment_id, line.refund)) {
                    println!("{} {}", line.time, line.message);
                    printed.push((line.payment_id, line.refund));
                }
            }
            let _ = std::io::stdout().flush();
        }
        renders = session
            .terminal
            .changed
            .wait_timeout(renders, Duration::from_secs(1))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}
