//! `chiiki-wallet`: the resident app in a terminal, over the very same `Wallet` facade that
//! Swift and Kotlin call — nothing here talks to the server or the cache directly. Each command
//! starts the wallet on its data directory, sends the events a resident would, waits for the
//! app to settle, and prints what the view model says (the core's own words).
//!
//! It is how a newcomer uses the system without a phone, and it proves the facade complete.

mod shell;
mod store;

use std::{
    io::{BufRead, IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
};

use chiiki_ffi::{
    Event, HistoryView, HomeView, PayView, PointsView, RegistrationForm, SaleView, ScreenView,
    StoresView, ViewModel, WalletError,
};
use clap::{Parser, Subcommand};

use shell::Session;

#[derive(Parser)]
#[command(
    name = "chiiki-wallet",
    version,
    about = "Chiiki's resident wallet in a terminal (the same app as on the phones)"
)]
struct Cli {
    /// Where the wallet keeps its offline cache and device key.
    #[arg(long, env = "CHIIKI_WALLET_DIR", global = true, default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// The Chiiki server's origin.
    #[arg(
        long,
        env = "CHIIKI_SERVER",
        global = true,
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register as a resident (and sign this terminal in).
    Register {
        #[arg(long)]
        name: String,
        /// The reading, in katakana or hiragana.
        #[arg(long)]
        kana: String,
        /// e.g. 1980-04-01
        #[arg(long)]
        birth_date: String,
        /// e.g. 376-0101
        #[arg(long)]
        postal_code: String,
        /// One of the programme's districts, e.g. 大間々町.
        #[arg(long)]
        district: String,
        #[arg(long)]
        address: String,
        /// Your phone number; it is also your login.
        #[arg(long)]
        phone: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Asked on the terminal when not given.
        #[arg(long, env = "CHIIKI_WALLET_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// The 4–6 digit payment PIN; asked on the terminal when not given.
        #[arg(long, env = "CHIIKI_WALLET_PIN", hide_env_values = true)]
        pin: Option<String>,
    },
    /// Sign this terminal in.
    Login {
        /// Your phone number.
        #[arg(long)]
        phone: String,
        /// Asked on the terminal when not given.
        #[arg(long, env = "CHIIKI_WALLET_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Sign this terminal out and forget the resident's data on it.
    Logout,
    /// What you can spend.
    Balance,
    /// Your payments, charges and refunds.
    History,
    /// The member stores, optionally searched by name or reading.
    Stores { query: Option<String> },
    /// Pay a store: the text of its QR code, and the amount in yen. Asks the PIN.
    Pay {
        #[arg(long)]
        code: String,
        #[arg(long)]
        amount: String,
        /// Spend community points first.
        #[arg(long)]
        use_points: bool,
    },
    /// Show your resident code as a QR code for a store to scan.
    Code,
    /// Store mode: log in as store staff, amount codes, charges, live payments, refunds.
    Store {
        #[command(subcommand)]
        action: store::StoreCommand,
    },
    /// The premium set sale: where it stands, your application, the lottery's result, and
    /// what to pay, how and by when. With a subcommand: apply, withdraw or buy.
    Sale {
        #[command(subcommand)]
        action: Option<SaleCommand>,
    },
    /// Your community points: what you can spend, when it lapses (JST), and the activities
    /// that earned it. `points claim --code CKE:…` claims an event's points.
    Points {
        #[command(subcommand)]
        action: Option<PointsCommand>,
    },
}

#[derive(Subcommand)]
enum PointsCommand {
    /// Claim the points of an event: the text of its QR code (`CKE:…`), from the venue's screen
    /// or a printed poster. Claiming the same code again never earns twice.
    Claim {
        #[arg(long)]
        code: String,
    },
}

#[derive(Subcommand)]
enum SaleCommand {
    /// Apply for N sets, or change your application to N (application window only).
    Apply {
        #[arg(long)]
        sets: i64,
    },
    /// Withdraw your application (application window only).
    Withdraw,
    /// Take N sets in the additional sale, first come, first served.
    Buy {
        #[arg(long)]
        sets: i64,
    },
}

fn default_data_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".chiiki-wallet"),
        None => PathBuf::from(".chiiki-wallet"),
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Wallet(#[from] WalletError),
    #[error("cannot read from the terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// The app said no; the message is its own.
    #[error("{0}")]
    Shown(String),
    #[error("not signed in: run `chiiki-wallet login` (or `register`) first")]
    SignedOut,
    #[error("the data directory is not valid UTF-8: {0}")]
    DataDir(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chiiki-wallet: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let data_dir = cli
        .data_dir
        .to_str()
        .ok_or_else(|| CliError::DataDir(cli.data_dir.display().to_string()))?;
    let command = match cli.command {
        Command::Store { action } => return store::run(data_dir, &cli.server, action),
        other => other,
    };
    let session = Session::start(data_dir, &cli.server)?;
    match command {
        Command::Register {
            name,
            kana,
            birth_date,
            postal_code,
            district,
            address,
            phone,
            email,
            password,
            pin,
        } => {
            let password = given_or_asked(password, "パスワード: ")?;
            let (pin, pin_again) = match pin {
                Some(pin) => (pin.clone(), pin),
                None => (
                    ask_secret("暗証番号（4〜6けた）: ")?,
                    ask_secret("暗証番号（もう一度）: ")?,
                ),
            };
            let form = RegistrationForm {
                name,
                kana,
                birth_date,
                postal_code,
                district,
                address,
                phone,
                email,
                password,
                pin,
                pin_again,
            };
            session.send(Event::RegistrationOpened)?;
            session.send(Event::RegistrationSubmitted { form })?;
            let view = session.wait_until(|v| !is_busy(v));
            if let ScreenView::Registration { view: form } = &view.screen
                && !form.errors.is_empty()
            {
                let lines: Vec<String> = form
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.field, e.message))
                    .collect();
                return Err(CliError::Shown(lines.join("\n")));
            }
            print_home(&signed_in(&view)?);
            Ok(())
        }
        Command::Login { phone, password } => {
            let password = given_or_asked(password, "パスワード: ")?;
            session.send(Event::LoginSubmitted {
                login: phone,
                password,
            })?;
            let view = session.wait_until(|v| !is_busy(v));
            if let ScreenView::Login { view: login } = &view.screen
                && let Some(error) = &login.error
            {
                return Err(CliError::Shown(error.clone()));
            }
            print_home(&signed_in(&view)?);
            Ok(())
        }
        Command::Logout => {
            session.send(Event::LogoutTapped)?;
            let view = session.wait_until(|_| true);
            alert_is_failure(&view)?;
            println!("ログアウトしました。");
            Ok(())
        }
        Command::Balance => {
            print_home(&home(&session)?);
            Ok(())
        }
        Command::History => {
            home(&session)?;
            session.send(Event::HistoryOpened)?;
            let view = session.wait_until(|_| true);
            note_offline(&view);
            match view.screen {
                ScreenView::History { view } => print_history(&view),
                _ => alert_is_failure(&view)?,
            }
            Ok(())
        }
        Command::Stores { query } => {
            home(&session)?;
            session.send(Event::StoresOpened)?;
            if let Some(query) = query {
                session.send(Event::StoreSearchTyped { query })?;
            }
            let view = session.wait_until(|_| true);
            note_offline(&view);
            match view.screen {
                ScreenView::Stores { view } => print_stores(&view),
                _ => alert_is_failure(&view)?,
            }
            Ok(())
        }
        Command::Pay {
            code,
            amount,
            use_points,
        } => pay(&session, code, amount, use_points),
        // Store mode runs on its own facade, before any resident wallet is started.
        Command::Store { .. } => Ok(()),
        Command::Sale { action } => sale(&session, action),
        Command::Points { action } => points(&session, action),
        Command::Code => {
            home(&session)?;
            session.send(Event::MyCodeOpened)?;
            let view = session.wait_until(|v| match &v.screen {
                ScreenView::MyCode { view } => view.payload.is_some() || view.error.is_some(),
                _ => true,
            });
            let ScreenView::MyCode { view: code } = &view.screen else {
                return alert_is_failure(&view);
            };
            let Some(payload) = &code.payload else {
                return Err(CliError::Shown(
                    code.error.clone().unwrap_or_else(|| code.caption.clone()),
                ));
            };
            match chiiki_core::qr::render::to_terminal(payload) {
                Ok(symbol) => println!("{symbol}"),
                Err(error) => eprintln!("{}", error.message_ja()),
            }
            println!("{}", code.caption);
            if let Some(updated) = &code.updated {
                println!("{updated}");
            }
            println!("{payload}");
            Ok(())
        }
    }
}

/// Scan (the code given), amount, PIN, receipt — each step only when the app has asked for it.
fn pay(session: &Session, code: String, amount: String, use_points: bool) -> Result<(), CliError> {
    home(session)?;
    session.send(Event::CodeScanned { payload: code })?;
    let view = session.wait_until(|v| !matches!(pay_view(v), Some(PayView::Checking { .. })));
    let Some(PayView::Amount {
        store_name,
        district,
        amount_fixed,
        ..
    }) = pay_view(&view)
    else {
        return alert_is_failure(&view);
    };
    println!("{store_name}（{district}）");
    if !amount_fixed {
        session.send(Event::AmountEntered { text: amount })?;
    }
    if use_points {
        session.send(Event::UsePointsChosen { use_points })?;
    }
    session.send(Event::AmountConfirmed)?;
    let view = session.view();
    let Some(PayView::Pin { amount, .. }) = pay_view(&view) else {
        return alert_is_failure(&view);
    };
    println!("お支払い金額 {amount}");
    let pin = ask_secret("暗証番号: ")?;
    session.send(Event::PinEntered { pin })?;
    // Confirming lasts until the server answers; a lost answer is re-sent by the app itself.
    let view = session.wait_until(|v| !matches!(pay_view(v), Some(PayView::Confirming { .. })));
    match pay_view(&view) {
        Some(PayView::Receipt {
            store_name,
            amount,
            paid_at,
            legs,
            balance_after,
        }) => {
            println!("お支払いが終わりました: {store_name} {amount}");
            println!("{paid_at}");
            for leg in legs {
                println!("  {} {}", leg.label, leg.amount);
            }
            println!("残高 {balance_after}");
            Ok(())
        }
        _ => alert_is_failure(&view),
    }
}

/// The sale screen as the server has it; then, for a subcommand, the sets picked and the
/// request sent, each answered before the next.
fn sale(session: &Session, action: Option<SaleCommand>) -> Result<(), CliError> {
    home(session)?;
    session.send(Event::SaleOpened)?;
    let view = session.wait_until(|v| sale_view(v).is_none_or(|s| s.loading.is_none()));
    note_offline(&view);
    alert_is_failure(&view)?;
    // Nothing known about the sale (no signal): the app's words, and a failure.
    let Some(shown) = sale_view(&view).filter(|s| s.offer.is_some()) else {
        let said = sale_view(&view).and_then(|s| s.status.or(s.loading));
        return Err(CliError::Shown(said.unwrap_or_default()));
    };
    let Some(action) = action else {
        print_sale(&shown);
        return Ok(());
    };
    let event = match action {
        SaleCommand::Apply { sets } => {
            session.send(Event::SetsChosen { sets })?;
            Event::ApplySubmitted
        }
        SaleCommand::Withdraw => Event::WithdrawTapped,
        SaleCommand::Buy { sets } => {
            session.send(Event::SetsChosen { sets })?;
            Event::AdditionalPurchaseTapped
        }
    };
    session.send(event)?;
    // An order whose answer is lost stays 確認中 and is sent again with the same key.
    let view = session.wait_until(|v| {
        v.alert.is_some() || sale_view(v).is_none_or(|s| s.busy.is_none() && s.loading.is_none())
    });
    alert_is_failure(&view)?;
    let Some(done) = sale_view(&view) else {
        return Ok(());
    };
    if let Some(busy) = &done.busy {
        return Err(CliError::Shown(busy.clone()));
    }
    if let Some(notice) = &done.notice {
        println!("{notice}");
    }
    print_sale(&done);
    Ok(())
}

/// The points screen; with `claim`, the code scanned first, as the resident would at the venue.
fn points(session: &Session, action: Option<PointsCommand>) -> Result<(), CliError> {
    home(session)?;
    let before = fetch_points(session)?;
    let Some(PointsCommand::Claim { code }) = action else {
        print_points(&before);
        return Ok(());
    };
    session.send(Event::CodeScanned { payload: code })?;
    // Answered either way once an alert shows (a claim, a refusal, or an answer lost: the
    // app's words say which).
    let view = session
        .wait_until(|v| v.alert.is_some() || v.points.as_ref().is_none_or(|p| p.busy.is_none()));
    note_offline(&view);
    let said = view.alert.as_ref().map(|a| a.message.clone());
    let after = fetch_points(session)?;
    // Both a claim and a refusal end in the app's message; only a claim adds an activity.
    if after.activities == before.activities {
        return Err(CliError::Shown(said.unwrap_or_default()));
    }
    if let Some(said) = said {
        println!("{said}");
    }
    print_points(&after);
    Ok(())
}

fn fetch_points(session: &Session) -> Result<PointsView, CliError> {
    session.send(Event::AlertDismissed)?;
    session.send(Event::PointsOpened)?;
    // Quiet means the points have been fetched (or could not be).
    let view = session.wait_until(|_| true);
    note_offline(&view);
    alert_is_failure(&view)?;
    view.points.ok_or(CliError::SignedOut)
}

fn print_points(points: &PointsView) {
    println!("ポイント {}", points.balance);
    println!("{}", points.explanation);
    for lot in &points.lots {
        println!("  {}  {}", lot.points, lot.expires);
    }
    if points.activities.is_empty() {
        println!("参加したイベントはまだありません。");
    }
    for activity in &points.activities {
        println!(
            "{}  {}（{}）  {}  {}",
            activity.earned_on, activity.event, activity.place, activity.points, activity.expires
        );
    }
}

fn sale_view(view: &ViewModel) -> Option<SaleView> {
    match &view.screen {
        ScreenView::Sale { view } => Some(view.clone()),
        _ => None,
    }
}

fn print_sale(sale: &SaleView) {
    println!("{}", sale.title);
    for line in [&sale.offer, &sale.status].into_iter().flatten() {
        println!("{line}");
    }
    for item in &sale.schedule {
        println!("  {} {}", item.label, item.dates);
    }
    for line in [&sale.application, &sale.result].into_iter().flatten() {
        println!("{line}");
    }
    for order in &sale.orders {
        println!(
            "お申し込み番号 {}  {}  {}  {}",
            order.order_id, order.title, order.amount, order.status
        );
        if let Some(deadline) = &order.deadline {
            println!("  お支払い期限 {deadline}");
        }
        for how in &order.how_to_pay {
            println!("  お支払い方法 {how}");
        }
        if let Some(paid_at) = &order.paid_at {
            println!("  お支払い日時 {paid_at}");
        }
    }
    for line in [&sale.held, &sale.additional].into_iter().flatten() {
        println!("{line}");
    }
}

fn pay_view(view: &ViewModel) -> Option<PayView> {
    match &view.screen {
        ScreenView::Pay { view } => Some(view.clone()),
        _ => None,
    }
}

fn is_busy(view: &ViewModel) -> bool {
    match &view.screen {
        ScreenView::Login { view } => view.busy,
        ScreenView::Registration { view } => view.busy,
        ScreenView::Loading { .. } => true,
        _ => false,
    }
}

/// The home screen, or why there is none (signed out, or the app's alert).
fn signed_in(view: &ViewModel) -> Result<HomeView, CliError> {
    note_offline(view);
    match (&view.screen, &view.alert) {
        (ScreenView::Home { view }, _) => Ok(view.clone()),
        (_, Some(alert)) => Err(CliError::Shown(alert.message.clone())),
        (_, None) => Err(CliError::SignedOut),
    }
}

/// Go to the home screen, as a resident does before anything else; fails when signed out.
fn home(session: &Session) -> Result<HomeView, CliError> {
    session.send(Event::HomeOpened)?;
    signed_in(&session.view())
}

/// The app shows an alert: that is the command's failure, in the app's words.
fn alert_is_failure(view: &ViewModel) -> Result<(), CliError> {
    match &view.alert {
        Some(alert) => Err(CliError::Shown(alert.message.clone())),
        None => Ok(()),
    }
}

fn note_offline(view: &ViewModel) {
    if let Some(banner) = &view.offline_banner {
        eprintln!("{banner}");
    }
}

fn print_home(home: &HomeView) {
    if !home.greeting.is_empty() {
        println!("{}", home.greeting);
    }
    println!("残高 {}", home.total);
    for purse in &home.purses {
        match &purse.expiry {
            Some(expiry) => println!("  {} {}（{expiry}）", purse.label, purse.balance),
            None => println!("  {} {}", purse.label, purse.balance),
        }
    }
    println!("ポイント {}", home.points);
    if let Some(pending) = &home.pending_payment {
        println!("{pending}");
    }
    if let Some(updated) = &home.last_updated {
        println!("{updated}");
    }
}

fn print_history(history: &HistoryView) {
    if let Some(empty) = &history.empty_message {
        println!("{empty}");
    }
    for row in &history.rows {
        println!("{}  {}  {}", row.date, row.amount, row.title);
        if let Some(detail) = &row.detail {
            println!("    {detail}");
        }
    }
}

fn print_stores(stores: &StoresView) {
    println!("{}", stores.summary);
    for store in &stores.stores {
        println!(
            "{}  {}（{}）  {}  {}",
            store.id, store.name, store.kana, store.industry, store.district
        );
    }
}

pub(crate) fn given_or_asked(given: Option<String>, prompt: &str) -> Result<String, CliError> {
    match given {
        Some(value) => Ok(value),
        None => ask_secret(prompt),
    }
}

/// Read a secret without echo on a terminal; from a pipe, read one line (for scripts and tests).
fn ask_secret(prompt: &str) -> Result<String, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "{prompt}");
    let _ = stderr.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let _ = writeln!(stderr);
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
