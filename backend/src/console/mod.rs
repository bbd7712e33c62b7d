//! The staff console at `/console`: server-rendered Japanese pages (askama templates under
//! `backend/templates/console/`), a little CSS, no JavaScript. One module per page; handlers
//! are thin and call the same domain functions as the admin API.
//!
//! Staff sign in with their login; the session is a normal session token in an HttpOnly,
//! SameSite=Strict cookie (Secure when the server is reached over TLS). Every form carries a
//! CSRF token bound to the session (`csrf::FormKey`), every change needs an operator or an
//! administrator (checked here, on the server), and every action is written to the audit log.
//! This module must never change anything on GET, and never render text unescaped.

mod audit_page;
mod dashboard;
mod payments;
mod points;
mod reports;
mod residents;
mod sale;
pub mod session;
mod settlement;
mod stores;

use crate::auth::{self, PrincipalKind};
use crate::crypto::sha256_hex;
use crate::http::AppState;
use crate::http::error::ApiError;
use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chiiki_core::protocol::Role;
use serde::de::DeserializeOwned;

/// The session cookie, only sent to `/console`.
pub const SESSION_COOKIE: &str = "chiiki_console";
/// The sign-in form's CSRF cookie (before there is a session).
pub const LOGIN_COOKIE: &str = "chiiki_console_login";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/console.css", get(css))
        .merge(session::routes())
        .merge(dashboard::routes())
        .merge(residents::routes())
        .merge(stores::routes())
        .merge(sale::routes())
        .merge(points::routes())
        .merge(payments::routes())
        .merge(settlement::routes())
        .merge(reports::routes())
        .merge(audit_page::routes())
}

async fn home() -> Redirect {
    Redirect::to("/console/dashboard")
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../templates/console/console.css"),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// Cookies

pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| crate::csrf::cookie_value(v, name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over TLS: served with `--tls-cert` (or `--hsts` behind a
/// proxy that terminates TLS), or told so by the proxy.
fn over_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state.settings.hsts
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A console cookie: HttpOnly, SameSite=Strict, only for `/console`, Secure over TLS.
pub(crate) fn set_cookie(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if over_tls(state, headers) {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF nonce of a session: only someone holding the session cookie can know it.
fn session_nonce(token: &str) -> String {
    sha256_hex(format!("chiiki-console-csrf:{token}").as_bytes())[..32].to_string()
}

// ---------------------------------------------------------------------------------------------
// The signed-in staff member

/// A signed-in member of the city's staff, with the CSRF token for the forms of the page.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub ip: String,
    pub csrf: String,
    nonce: String,
}

impl Staff {
    /// The actor name the ledger and the audit log use: `staff:3`.
    pub fn actor(&self) -> String {
        format!("staff:{}", self.id)
    }

    pub fn can_operate(&self) -> bool {
        self.role.can_operate()
    }

    pub fn role_ja(&self) -> &'static str {
        match self.role {
            Role::Administrator => "管理者",
            Role::Operator => "担当者",
            _ => "閲覧者",
        }
    }

    /// An audit entry for an action of this staff member.
    pub fn audit(&self, action: &str) -> crate::audit::Action {
        crate::audit::Action::new(self.actor(), self.ip.clone(), action)
    }
}

/// Not signed in: pages send the browser to the sign-in form.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/console/login").into_response()
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Staff, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
            return Err(SignInFirst.into_response());
        };
        let now = state.clock.now();
        let who = match auth::authenticate(&state.db, &token, now).await {
            Ok(who) if who.kind == PrincipalKind::Staff => who,
            Ok(_) | Err(auth::AuthError::Unauthorized) => {
                return Err(SignInFirst.into_response());
            }
            Err(e) => return Err(Failure::from(e).into_response()),
        };
        if let Some(slot) = parts.extensions.get::<crate::ops::access::CallerSlot>() {
            slot.set(who.actor());
        }
        let crate::http::ClientIp(ip) = crate::http::ClientIp::from_request_parts(parts, state)
            .await
            .map_err(|e| Failure(e).into_response())?;
        let name = auth::display_name(&state.db, &who)
            .await
            .map_err(|e| Failure::from(e).into_response())?;
        let key = state
            .stores
            .form_key(&state.db, now)
            .await
            .map_err(|e| Failure::from(e).into_response())?;
        let nonce = session_nonce(&token);
        Ok(Staff {
            id: who.id,
            name,
            role: who.role,
            ip,
            csrf: key.issue_bound(&nonce, now),
            nonce,
        })
    }
}

/// A page's query string; one that cannot be read is taken as empty (the page's defaults).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Default + Send> FromRequestParts<AppState> for Params<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let query = axum::extract::Query::<T>::from_request_parts(parts, state).await;
        Ok(Params(query.map(|q| q.0).unwrap_or_default()))
    }
}

/// A form's CSRF field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// A form with nothing but its CSRF token: a button that does one thing.
#[derive(serde::Deserialize)]
pub struct PlainForm {
    csrf: String,
}

impl CsrfField for PlainForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `?done=…` after a change redirects back: which flash message to show.
#[derive(serde::Deserialize, Default)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: Option<String>,
}

/// A submitted form that may change something: from a signed-in operator or administrator,
/// carrying this session's CSRF token. Viewers and forged forms get 403 here, before any
/// handler runs.
pub struct Change<T> {
    pub staff: Staff,
    pub form: T,
}

impl<T> FromRequest<AppState> for Change<T>
where
    T: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Change<T>, Response> {
        let (mut parts, body) = req.into_parts();
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let form: Result<Form<T>, FormRejection> = Form::from_request(req, state).await;
        let Ok(Form(form)) = form else {
            return Err(Failure(ApiError::invalid_field(
                "form",
                "フォームの内容が読めません。",
            ))
            .into_response());
        };
        check_csrf(state, &staff, form.csrf())
            .await
            .map_err(IntoResponse::into_response)?;
        if !staff.can_operate() {
            tracing::warn!(target: crate::ops::logs::FAILURE, staff = staff.id, "viewer tried to change something");
            return Err(Failure(auth::AuthError::Forbidden.into()).into_response());
        }
        Ok(Change { staff, form })
    }
}

async fn check_csrf(state: &AppState, staff: &Staff, token: &str) -> Result<(), Failure> {
    let now = state.clock.now();
    let key = state.stores.form_key(&state.db, now).await?;
    key.check(Some(&staff.nonce), token, now).map_err(|e| {
        tracing::warn!(target: crate::ops::logs::FAILURE, staff = staff.id, error = %e, "console form refused");
        Failure(ApiError::new(
            StatusCode::FORBIDDEN,
            chiiki_core::protocol::ErrorCode::Forbidden,
            "このフォームは使えません。ページを開き直してからもう一度送ってください。 / The form token is not valid.",
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Pages and errors

/// What every page's frame shows: the title, who is signed in, the navigation.
pub struct Chrome {
    pub title: String,
    pub nav: &'static str,
    pub staff_name: String,
    pub role: &'static str,
    pub can_operate: bool,
    pub csrf: String,
    pub flash: Option<String>,
}

impl Chrome {
    pub fn new(staff: &Staff, title: &str, nav: &'static str) -> Chrome {
        Chrome {
            title: title.to_string(),
            nav,
            staff_name: staff.name.clone(),
            role: staff.role_ja(),
            can_operate: staff.can_operate(),
            csrf: staff.csrf.clone(),
            flash: None,
        }
    }

    /// The message of a `?done=` redirect after a change.
    pub fn with_flash(mut self, flash: Option<&str>) -> Chrome {
        self.flash = flash.map(str::to_string);
        self
    }
}

/// Renders a page template.
pub fn page<T: Template>(template: &T) -> Result<Response, Failure> {
    let html = template.render().map_err(ApiError::internal)?;
    Ok(no_store(Html(html).into_response()))
}

/// Console pages show personal data: never kept by a shared cache or the back button.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A file for download.
pub fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    no_store(response)
}

/// After a change: back to a page, which shows what was done.
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// Any refusal or fault, shown as a page with the API's status and Japanese message.
#[derive(Debug)]
pub struct Failure(pub ApiError);

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.into())
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.0.status.as_u16(),
            message: &self.0.message,
        };
        let html = page
            .render()
            .unwrap_or_else(|_| "エラーが起きました。".to_string());
        no_store((self.0.status, Html(html)).into_response())
    }
}

pub type PageResult = Result<Response, Failure>;

/// Yen for people: ¥1,234.
pub fn yen(amount: i64) -> String {
    chiiki_core::Yen(amount).to_string()
}

/// A UTC time in JST for people.
pub fn jst(at: chrono::DateTime<chrono::Utc>) -> String {
    chiiki_core::time::format_jst_datetime(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_nonces_differ_per_session_and_hide_the_token() {
        let a = session_nonce("token-a");
        assert_eq!(a, session_nonce("token-a"));
        assert_ne!(a, session_nonce("token-b"));
        assert!(!a.contains("token"));
    }

    #[test]
    fn yen_is_formatted_for_people() {
        assert_eq!(yen(1234567), chiiki_core::Yen(1234567).to_string());
    }
}
