//! Starting up and keeping up to date: the app draws what the cache holds at once, then asks
//! the server for the programme, the balance, the newest history and the directory's changes.
//! Owns the home screen and what a failed refresh means (offline banner, signed out, alert).

use crux_core::Command;
use crux_http::Url;

use crate::protocol::{Balance, ErrorCode, ProgrammeInfo, paths};

use super::{
    Event, Internal,
    account::forget_stored,
    api::{ApiError, ApiResult, Call},
    cache::{self, Stored},
    effects::{Effect, render},
    history, internal, messages,
    model::{Alert, Model, PayStep, Retry, Screen},
    pay, points, sale, stores,
};

const BAD_SERVER_ADDRESS: &str =
    "アプリの設定に誤りがあります。お手数ですが、アプリを入れ直してください。";

pub fn start(model: &mut Model, server_url: &str, device_name: String) -> Command<Effect, Event> {
    model.device_name = device_name;
    model.screen = Screen::Loading;
    match Url::parse(server_url) {
        Ok(url) => model.server = Some(url),
        Err(_) => model.alert = Some(Alert::new(BAD_SERVER_ADDRESS)),
    }
    cache::load().and(render())
}

/// Draw what the phone remembers, then bring it up to date.
pub fn cache_loaded(model: &mut Model, stored: Stored) -> Command<Effect, Event> {
    stored.restore_into(model);
    model.screen = if model.signed_in() {
        Screen::Home
    } else {
        Screen::Login
    };
    render().and(refresh(model))
}

/// Ask the server for everything that may have changed, and re-send a pending payment.
pub fn refresh(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return fetch_programme(model);
    }
    Command::all([
        render(),
        fetch_programme(model),
        fetch_balance(model),
        history::fetch_newest(model),
        stores::sync(model),
        pay::resume_pending(model),
        refresh_sale(model),
        refresh_points(model),
        sale::resume_order(model),
    ])
}

/// The sale screen is kept up to date while it is shown; elsewhere it is asked for on opening.
fn refresh_sale(model: &mut Model) -> Command<Effect, Event> {
    if model.screen == Screen::Sale {
        sale::fetch(model)
    } else {
        Command::done()
    }
}

/// The points screen, likewise.
fn refresh_points(model: &mut Model) -> Command<Effect, Event> {
    if model.screen == Screen::Points {
        points::fetch(model)
    } else {
        Command::done()
    }
}

pub fn open_home(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        model.screen = Screen::Login;
        return render();
    }
    if matches!(model.pay, PayStep::Done { .. }) {
        model.pay = PayStep::Idle;
    }
    model.screen = Screen::Home;
    render()
}

pub fn fetch_programme(model: &Model) -> Command<Effect, Event> {
    Call::get(paths::PROGRAMME).send(model.connection().as_ref(), |r| {
        internal(Internal::ProgrammeFetched(r))
    })
}

pub fn fetch_balance(model: &Model) -> Command<Effect, Event> {
    Call::get(paths::ME_BALANCE).send(model.connection().as_ref(), |r| {
        internal(Internal::BalanceFetched(r))
    })
}

pub fn programme_fetched(
    model: &mut Model,
    result: ApiResult<ProgrammeInfo>,
) -> Command<Effect, Event> {
    match result {
        Ok(programme) => {
            let save = cache::save(cache::PROGRAMME, &programme);
            model.programme = Some(programme);
            model.offline = false;
            save.and(pay::programme_known(model))
        }
        Err(error) if matches!(model.pay, PayStep::CheckingCode { .. }) => {
            pay::lookup_failed(model, &error)
        }
        Err(error) => failed(model, &error, Retry::Refresh),
    }
}

pub fn balance_fetched(model: &mut Model, result: ApiResult<Balance>) -> Command<Effect, Event> {
    match result {
        Ok(balance) => {
            let save = cache::save(cache::BALANCE, &balance);
            model.balance = Some(balance);
            model.offline = false;
            save.and(render())
        }
        Err(error) => failed(model, &error, Retry::Refresh),
    }
}

/// A background request failed: no signal shows the offline banner over the cached data, a
/// session the server no longer knows signs the resident out, anything else is an alert.
pub fn failed(model: &mut Model, error: &ApiError, retry: Retry) -> Command<Effect, Event> {
    if error.is_network() {
        model.offline = true;
        return render();
    }
    if is_signed_out(error) && model.signed_in() && model.pending.is_none() {
        return signed_out(model);
    }
    if model.alert.is_none() {
        let message = messages::for_error(error);
        model.alert = Some(if messages::worth_retrying(error) {
            Alert::with_retry(message, retry)
        } else {
            Alert::new(message)
        });
    }
    render()
}

pub fn is_signed_out(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::Refused {
            code: ErrorCode::Unauthorized,
            ..
        } | ApiError::Refused {
            status: 401,
            code: ErrorCode::Unknown,
            ..
        }
    )
}

/// The server no longer accepts this device's session: back to the login screen.
pub fn signed_out(model: &mut Model) -> Command<Effect, Event> {
    model.forget_resident();
    model.alert = Some(Alert::new(messages::SIGNED_OUT));
    forget_stored().and(render())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::app::{
        BALANCE, DIRECTORY, Event, HISTORY, HomeView, PROGRAMME, SESSION, ScreenView,
        testing::{
            Phone, answer, bakery, balance, cache_of, cached, directory, empty_page, lost,
            programme, refusal, session, transaction,
        },
    };

    fn home(phone: &Phone) -> HomeView {
        match phone.view().screen {
            ScreenView::Home(home) => home,
            other => panic!("expected the home screen, got {other:?}"),
        }
    }

    fn cache_of_a_resident() -> std::collections::BTreeMap<String, Vec<u8>> {
        cache_of(&[
            (SESSION, session()),
            (PROGRAMME, programme()),
            (BALANCE, balance(6500, 1200)),
            (
                HISTORY,
                json!({ "items": [transaction(3, -1200)], "next_cursor": null, "complete": true }),
            ),
            (
                DIRECTORY,
                json!({ "stores": { "7": bakery() }, "as_of": "2025-01-10T03:00:00Z" }),
            ),
        ])
    }

    #[test]
    fn a_fresh_install_asks_the_resident_to_log_in() {
        let mut phone = Phone::new();
        phone.launch();
        assert!(matches!(phone.view().screen, ScreenView::Login(_)));
        // The programme is public: its districts fill the registration form.
        phone.respond_to("/api/v1/programme", answer(200, &programme()));
        assert_eq!(phone.requests_to("/api/v1/me/balance"), 0);
    }

    #[test]
    fn an_offline_start_shows_the_cached_balance_at_once_then_the_offline_banner() {
        let mut phone = Phone::with_cache(cache_of_a_resident());
        phone.launch();

        // Before the server has said anything, the home screen is drawn from the cache.
        let screen = home(&phone);
        assert_eq!(screen.greeting, "山田 花子 さん");
        assert_eq!(screen.total, "¥6,500");
        assert_eq!(screen.points, "1,200ポイント");
        assert_eq!(screen.purses.len(), 1);
        assert_eq!(screen.purses[0].label, "プレミアム付商品券");
        assert_eq!(screen.purses[0].balance, "¥6,500");
        assert_eq!(
            screen.purses[0].expiry.as_deref(),
            Some("2025年2月28日まで")
        );
        assert_eq!(
            screen.last_updated.as_deref(),
            Some("最終更新 2025年1月10日 12:00")
        );
        assert_eq!(phone.view().offline_banner, None);

        for path in [
            "/api/v1/programme",
            "/api/v1/me/balance",
            "/api/v1/me/transactions",
            "/api/v1/stores",
        ] {
            phone.respond_to(path, lost());
        }

        let view = phone.view();
        assert!(
            view.offline_banner
                .is_some_and(|b| b.contains("インターネット"))
        );
        assert_eq!(view.alert, None, "no signal is a banner, not an alert");
        assert_eq!(home(&phone).total, "¥6,500");
    }

    #[test]
    fn a_refresh_that_gets_through_updates_the_screen_and_the_cache() {
        let mut phone = Phone::with_cache(cache_of_a_resident());
        phone.launch();
        phone.respond_to("/api/v1/me/balance", lost());
        assert!(phone.view().offline_banner.is_some());

        phone.send(Event::RefreshRequested);
        phone.respond_to("/api/v1/me/balance", answer(200, &balance(5300, 0)));

        assert_eq!(phone.view().offline_banner, None);
        assert_eq!(home(&phone).total, "¥5,300");
        let stored = cached(&phone.cache, BALANCE).expect("the balance is kept");
        assert_eq!(stored["total"], 5300);
    }

    #[test]
    fn the_directory_asks_only_for_changes_since_the_last_sync() {
        let mut phone = Phone::with_cache(cache_of_a_resident());
        phone.launch();
        let request = phone.respond_to("/api/v1/stores", answer(200, &directory(&[])));
        assert!(
            request
                .url
                .ends_with("?since=2025-01-10T03%3A00%3A00%2B00%3A00"),
            "{}",
            request.url
        );
    }

    #[test]
    fn a_session_the_server_no_longer_accepts_signs_the_resident_out_and_forgets_them() {
        let mut phone = Phone::with_cache(cache_of_a_resident());
        phone.launch();
        phone.respond_to("/api/v1/me/balance", refusal(401, "unauthorized"));

        let view = phone.view();
        assert!(matches!(view.screen, ScreenView::Login(_)));
        assert_eq!(
            view.alert.map(|a| a.message),
            Some("もう一度ログインしてください。".to_owned())
        );
        assert!(!phone.cache.contains_key(SESSION));
        assert!(!phone.cache.contains_key(BALANCE));
        assert!(
            phone.cache.contains_key(DIRECTORY),
            "the city's stores are not personal"
        );
    }

    #[test]
    fn a_busy_server_is_explained_and_retry_asks_again() {
        let mut phone = Phone::with_cache(cache_of_a_resident());
        phone.launch();
        phone.respond_to("/api/v1/me/balance", refusal(503, "unavailable"));

        let alert = phone.view().alert.expect("an alert");
        assert!(alert.message.contains("混み合って"), "{}", alert.message);
        assert_eq!(alert.retry_label.as_deref(), Some("もう一度ためす"));

        phone.send(Event::RetryTapped);
        assert_eq!(phone.view().alert, None);
        phone.respond_to("/api/v1/me/balance", answer(200, &balance(6500, 1200)));
        phone.respond_to("/api/v1/me/transactions", answer(200, &empty_page()));
    }
}
