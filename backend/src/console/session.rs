//! Signing staff in and out of the console, and the lockout: after `MAX_FAILURES` wrong
//! passwords in a row a login is refused for `LOCK_MINUTES`, even with the right password
//! (on top of the per-address and per-login rate limits). Every attempt is audited.

use super::{
    Failure, LOGIN_COOKIE, PageResult, Params, SESSION_COOKIE, cookie, page, see_other, set_cookie,
};
use crate::auth::{self, AuthError, LoginInput};
use crate::clock::{from_millis, to_millis};
use crate::db::Db;
use crate::http::error::ApiError;
use crate::http::{AppState, ClientIp};
use askama::Template;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chiiki_core::protocol::Role;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// Wrong passwords in a row that lock a login.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked login stays locked.
pub const LOCK_MINUTES: i64 = 15;
const DEVICE_NAME: &str = "職員コンソール";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
}

/// Where a login stands after one more wrong password: the new count and, when it reaches
/// the limit, the time the lock ends (the count then starts again).
pub fn after_failure(failures: i64, now: DateTime<Utc>) -> (i64, Option<DateTime<Utc>>) {
    let failures = failures + 1;
    if failures >= MAX_FAILURES {
        (0, Some(now + Duration::minutes(LOCK_MINUTES)))
    } else {
        (failures, None)
    }
}

/// The end of a login's lock, if it is locked now.
pub async fn locked_until(
    db: &Db,
    login: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let until = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT locked_until FROM staff_login_failures WHERE login = $1",
    )
    .bind(login)
    .fetch_optional(db.writer())
    .await?
    .flatten()
    .map(from_millis);
    Ok(until.filter(|until| *until > now))
}

/// Counts a wrong password; returns the lock's end when this one locked the login.
pub async fn record_failure(
    db: &Db,
    login: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let failures =
        sqlx::query_scalar::<_, i64>("SELECT failures FROM staff_login_failures WHERE login = $1")
            .bind(login)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
    let (failures, until) = after_failure(failures, now);
    sqlx::query(
        "INSERT INTO staff_login_failures (login, failures, locked_until) VALUES ($1, $2, $3)
         ON CONFLICT (login) DO UPDATE SET failures = $2, locked_until = $3",
    )
    .bind(login)
    .bind(failures)
    .bind(until.map(to_millis))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(until)
}

/// A right password clears the count.
pub async fn clear_failures(db: &Db, login: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_login_failures WHERE login = $1")
        .bind(login)
        .execute(db.writer())
        .await?;
    Ok(())
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    login: &'a str,
    message: Option<&'a str>,
    notice: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Params(query): Params<LoginQuery>,
) -> PageResult {
    let notice = query
        .done
        .filter(|d| d == "signed-out")
        .map(|_| "ログアウトしました。");
    login_form(&state, &headers, StatusCode::OK, "", None, notice).await
}

/// The sign-in form with a fresh CSRF token mirrored in a cookie.
async fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    message: Option<&str>,
    notice: Option<&str>,
) -> PageResult {
    let now = state.clock.now();
    let key = state.stores.form_key(&state.db, now).await?;
    let issued = key.issue(now).map_err(ApiError::internal)?;
    let mut response = page(&LoginPage {
        csrf: &issued.token,
        login,
        message,
        notice,
    })?;
    *response.status_mut() = status;
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state,
            headers,
            LOGIN_COOKIE,
            &issued.cookie,
            Some(crate::csrf::LIFETIME_SECS),
        ),
    );
    Ok(response)
}

#[derive(Deserialize, Default)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    match sign_in(&state, &headers, &ip, &form).await {
        Ok(response) => response,
        Err(SignInRefused::Page(status, message)) => login_form(
            &state,
            &headers,
            status,
            form.login.trim(),
            Some(&message),
            None,
        )
        .await
        .unwrap_or_else(IntoResponse::into_response),
        Err(SignInRefused::Fault(failure)) => failure.into_response(),
    }
}

enum SignInRefused {
    Page(StatusCode, String),
    Fault(Failure),
}

impl<E: Into<ApiError>> From<E> for SignInRefused {
    fn from(e: E) -> SignInRefused {
        SignInRefused::Fault(Failure(e.into()))
    }
}

fn refused(status: StatusCode, message: &str) -> SignInRefused {
    SignInRefused::Page(status, message.to_string())
}

async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: &str,
    form: &LoginForm,
) -> Result<Response, SignInRefused> {
    let now = state.clock.now();
    let key = state.stores.form_key(&state.db, now).await?;
    if key
        .check(cookie(headers, LOGIN_COOKIE), &form.csrf, now)
        .is_err()
    {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "フォームの有効期限が切れたか、正しくありません。もう一度入力してください。",
        ));
    }
    let login = form.login.trim();
    // What the audit log names a failed attempt by: the login as typed, cut short; a phone
    // number (a resident at the wrong door) only as its blind index, never in clear.
    let typed: String = auth::stored_login(&state.db, login)
        .chars()
        .take(32)
        .collect();
    let limited = crate::http::limit(&state.limits.login_per_ip, ip, state)
        .and_then(|_| crate::http::limit(&state.limits.login_per_account, login, state));
    if let Err(e) = limited {
        return Err(SignInRefused::Page(e.status, e.message));
    }
    if let Some(until) = locked_until(&state.db, login, now).await? {
        let action =
            crate::audit::Action::new(format!("login:{typed}"), ip, "console.login_locked")
                .detail(serde_json::json!({ "locked_until": until.to_rfc3339() }));
        crate::audit::record_after(&state.db, action, now).await;
        return Err(SignInRefused::Page(
            StatusCode::LOCKED,
            format!(
                "パスワードの誤りが続いたため、このログインIDは{}まで使えません。",
                super::jst(until)
            ),
        ));
    }
    let session = auth::login(
        &state.db,
        LoginInput {
            login,
            password: &form.password,
            device_name: DEVICE_NAME,
            public_key: None,
        },
        now,
    )
    .await;
    let session = match session {
        Ok(s) if matches!(s.role, Role::Administrator | Role::Operator | Role::Viewer) => s,
        Ok(s) => {
            // Residents and stores have their own apps; a right password is not a failure.
            let _ = auth::revoke_session(&state.db, &s.token, now).await;
            return Err(refused(
                StatusCode::FORBIDDEN,
                "このページは市の職員用です。",
            ));
        }
        Err(AuthError::InvalidCredentials) | Err(AuthError::Invalid { .. }) => {
            let locked = record_failure(&state.db, login, now).await?;
            let action =
                crate::audit::Action::new(format!("login:{typed}"), ip, "console.login_failed")
                    .detail(serde_json::json!({ "locked": locked.is_some() }));
            crate::audit::record_after(&state.db, action, now).await;
            return Err(refused(
                StatusCode::UNAUTHORIZED,
                "ログインIDかパスワードが違います。",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    clear_failures(&state.db, login).await?;
    let who = auth::authenticate(&state.db, &session.token, now).await?;
    let action = crate::audit::Action::new(who.actor(), ip, "console.login");
    crate::audit::record(&state.db, &action, now)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(target: crate::ops::logs::OPERATION, staff = who.id, "console sign-in");
    let mut response = see_other("/console/dashboard");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(state, headers, SESSION_COOKIE, &session.token, None),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(state, headers, LOGIN_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[derive(Deserialize, Default)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    staff: super::Staff,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> PageResult {
    let form = form.map(|f| f.0).unwrap_or_default();
    super::check_csrf(&state, &staff, &form.csrf).await?;
    let now = state.clock.now();
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        auth::revoke_session(&state.db, token, now).await?;
    }
    crate::audit::record_after(&state.db, staff.audit("console.logout"), now).await;
    let mut response = see_other("/console/login?done=signed-out");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, &headers, SESSION_COOKIE, "", Some(0)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_fifth_wrong_password_locks_the_login() {
        let now = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();
        let mut failures = 0;
        for _ in 1..MAX_FAILURES {
            let (next, until) = after_failure(failures, now);
            assert_eq!(until, None);
            failures = next;
        }
        let (next, until) = after_failure(failures, now);
        assert_eq!(next, 0);
        assert_eq!(until, Some(now + Duration::minutes(LOCK_MINUTES)));
    }
}
