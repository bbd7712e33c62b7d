//! Signing the till in and out, what the till keeps in its cache, and setting up after login:
//! the store's printed code (for amount codes), today's sales and the live feed.

use crux_core::Command;
use crux_http::Url;
use crux_kv::KeyValueOperation;
use serde::de::DeserializeOwned;

use crate::app::{
    api::{ApiError, ApiResult, Call},
    cache,
};
use crate::protocol::{CreateSession, Role, SessionCreated, StoreCode, paths};

use super::{
    Event, Internal,
    effects::Effect,
    feed, internal, messages,
    model::{Alert, Model, PendingCharge, Retry, Screen, Session},
    render, sales,
};

/// `model::Session` of the signed-in staff member. Personal (holds the bearer token).
pub const SESSION: &str = "store.session";
/// The store's printed code, as issued by the server.
pub const STORE_CODE: &str = "store.code";
/// `model::PendingCharge`: a scanned charge not yet answered by the server.
pub const PENDING_CHARGE: &str = "store.pending_charge";

const ALL: [&str; 3] = [SESSION, STORE_CODE, PENDING_CHARGE];

/// What the cache held at start, still as bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    session: Option<Vec<u8>>,
    store_code: Option<Vec<u8>>,
    pending: Option<Vec<u8>>,
}

fn parse<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    serde_json::from_slice(&bytes?).ok()
}

pub fn start(model: &mut Model, server_url: &str, device_name: String) -> Command<Effect, Event> {
    model.server = Url::parse(server_url).ok();
    model.device_name = device_name;
    Command::new(|ctx| async move {
        let mut stored = Stored::default();
        for (key, slot) in [
            (SESSION, &mut stored.session),
            (STORE_CODE, &mut stored.store_code),
            (PENDING_CHARGE, &mut stored.pending),
        ] {
            let answer = ctx
                .request_from_shell(KeyValueOperation::Get { key: key.into() })
                .await;
            *slot = cache::read_value(answer);
        }
        ctx.send_event(internal(Internal::CacheLoaded(stored)));
    })
}

pub fn cache_loaded(model: &mut Model, stored: Stored) -> Command<Effect, Event> {
    model.session = parse::<Session>(stored.session);
    if model.session.is_none() {
        model.screen = Screen::Login;
        return render();
    }
    model.store_code = parse::<String>(stored.store_code);
    model.pending = parse::<PendingCharge>(stored.pending);
    model.screen = Screen::Till;
    let resume = super::charge::resume_pending(model);
    render().and(resume).and(set_up(model))
}

pub fn log_in(model: &mut Model, login: String, password: String) -> Command<Effect, Event> {
    if model.signed_in() || model.logging_in {
        return render();
    }
    model.logging_in = true;
    model.alert = None;
    let body = CreateSession {
        login: login.trim().to_owned(),
        password,
        device_name: model.device_name.clone(),
        public_key: None,
    };
    render().and(
        Call::post(paths::SESSIONS, &body).send(model.connection().as_ref(), |result| {
            internal(Internal::SessionCreated(result))
        }),
    )
}

pub fn session_created(
    model: &mut Model,
    result: ApiResult<SessionCreated>,
) -> Command<Effect, Event> {
    model.logging_in = false;
    let created = match result {
        Ok(created) => created,
        Err(error) => {
            model.alert = Some(Alert::new(messages::for_error(&error)));
            return render();
        }
    };
    let (Role::StoreStaff, Some(store_id)) = (created.role, created.store_id) else {
        model.alert = Some(Alert::new(messages::NOT_A_STORE_LOGIN));
        return render();
    };
    let session = Session {
        token: created.token,
        store_id,
        display_name: created.display_name,
    };
    let save = cache::save(SESSION, &session);
    model.session = Some(session);
    model.screen = Screen::Till;
    render().and(save).and(set_up(model))
}

/// After login or launch: the store's code, today's sales, the live feed.
pub fn set_up(model: &mut Model) -> Command<Effect, Event> {
    let Some(session) = &model.session else {
        return render();
    };
    let code = Call::get(paths::store_code(session.store_id))
        .send(model.connection().as_ref(), |result| {
            internal(Internal::StoreCodeFetched(result))
        });
    let feed = if model.feed.handle.is_none() {
        feed::subscribe(model)
    } else {
        Command::done()
    };
    Command::all([code, sales::fetch_today(model), feed])
}

pub fn store_code_fetched(
    model: &mut Model,
    result: ApiResult<StoreCode>,
) -> Command<Effect, Event> {
    match result {
        Ok(code) => {
            let save = cache::save(STORE_CODE, &code.payload);
            model.store_code = Some(code.payload);
            save.and(render())
        }
        Err(error) if is_signed_out(&error) => signed_out(model),
        // Only amount codes need it; a cached one serves until the next launch.
        Err(_) if model.store_code.is_some() => Command::done(),
        Err(error) => {
            model.alert = Some(Alert::with_retry(messages::for_error(&error), Retry::Setup));
            render()
        }
    }
}

pub fn log_out(model: &mut Model) -> Command<Effect, Event> {
    if model.pending.is_some() {
        model.alert = Some(Alert::new(messages::LOGOUT_BLOCKED));
        return render();
    }
    forget(model)
}

/// The server no longer accepts the session.
pub fn is_signed_out(error: &ApiError) -> bool {
    matches!(error, ApiError::Refused { status: 401, .. })
}

pub fn signed_out(model: &mut Model) -> Command<Effect, Event> {
    let forget = forget(model);
    model.alert = Some(Alert::new(messages::SIGNED_OUT));
    forget
}

fn forget(model: &mut Model) -> Command<Effect, Event> {
    model.forget_store();
    Command::all(ALL.map(cache::remove)).and(render())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::store::{
        FeedUpdate, ScreenView,
        testing::{Till, answer_json, json_body, refusal, session_created},
    };

    fn logged_in_till() -> Till {
        let mut till = Till::with_cache(BTreeMap::new());
        till.launch();
        till.send(Event::LoginSubmitted {
            login: " S0001 ".into(),
            password: "chiiki-demo-store".into(),
        });
        till
    }

    #[test]
    fn store_staff_log_in_and_the_till_sets_itself_up() {
        let mut till = logged_in_till();
        assert_eq!(till.view().screen, ScreenView::Login { busy: true });
        let sent = till.respond_to("/api/v1/sessions", answer_json(201, &session_created()));
        assert_eq!(json_body(&sent)["login"], "S0001");
        assert_eq!(json_body(&sent)["device_name"], "レジ1");
        assert!(till.cache.contains_key(SESSION));
        assert!(matches!(till.view().screen, ScreenView::Till(_)));
        assert_eq!(till.requests_to("/api/v1/stores/7/code"), 1);
        assert_eq!(till.requests_to("/api/v1/store/payments"), 1);
        let feed = till.take_feed();
        assert_eq!(
            feed.operation.url,
            "https://midori.chiiki.example/api/v1/store/payments/stream"
        );
        assert_eq!(feed.operation.token, "tok-store-1");
    }

    #[test]
    fn a_residents_login_is_not_accepted_at_the_till() {
        let mut till = logged_in_till();
        let resident = json!({ "token": "t", "role": "resident", "display_name": "山田 花子",
                               "device_id": 3, "resident_id": 12 });
        till.respond_to("/api/v1/sessions", answer_json(201, &resident));
        assert_eq!(till.view().screen, ScreenView::Login { busy: false });
        assert_eq!(
            till.view().alert.expect("alert").message,
            messages::NOT_A_STORE_LOGIN
        );
        assert!(!till.cache.contains_key(SESSION));
    }

    #[test]
    fn a_wrong_password_is_explained() {
        let mut till = logged_in_till();
        till.respond_to("/api/v1/sessions", refusal(401, "invalid_credentials"));
        assert_eq!(
            till.view().alert.expect("alert").message,
            messages::INVALID_CREDENTIALS
        );
    }

    #[test]
    fn logging_out_forgets_the_store_and_ignores_its_feed() {
        let mut till = Till::signed_in();
        let mut feed = till.take_feed();
        till.send(Event::LogoutTapped);
        assert_eq!(till.view().screen, ScreenView::Login { busy: false });
        assert!(!till.cache.contains_key(SESSION));
        assert!(!till.cache.contains_key(STORE_CODE));
        // The subscription was stopped: its answers go nowhere.
        let _ = till.try_resolve(
            &mut feed,
            FeedUpdate::Received(crate::store::testing::feed_event(1, 500)),
        );
        assert_eq!(till.view().screen, ScreenView::Login { busy: false });
    }
}
