//! The public application page (`/sale`): plain HTML in Japanese for residents who do not
//! use the app. No JavaScript: forms post and the server answers with a page or a redirect.
//! Built for large text and screen readers: one `h1`, labelled fields, radio buttons in a
//! `fieldset` with a `legend`, messages in live regions, text that zooms.
//!
//! Residents sign in with the same phone number and password as in the app; the session is
//! an HttpOnly, SameSite=Strict cookie holding a normal session token. Every form carries a
//! CSRF token: before sign-in a random one mirrored in a cookie, after sign-in one derived
//! from the session token. This page must never show or accept anything without escaping,
//! and never change anything on GET.

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientIp, limit};
use crate::auth::{self, AuthError, LoginInput, PrincipalKind};
use crate::crypto::{new_token, sha256_hex};
use crate::sale::applications::{self, SetCount};
use crate::sale::{Busy, purchase};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chiiki_core::Yen;
use chiiki_core::protocol::{MySale, OrderChannel, OrderStatus, SalePhase, paths};
use chiiki_core::time::{format_date, format_jst_date, format_jst_datetime, jst};
use chrono::{DateTime, Timelike, Utc};
use serde::Deserialize;

const SESSION_COOKIE: &str = "chiiki_sale";
const LOGIN_COOKIE: &str = "chiiki_sale_login";
const DEVICE_NAME: &str = "申込ページ（ウェブ）";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::SALE_PAGE, get(page))
        .route("/sale/login", post(login))
        .route("/sale/logout", post(logout))
        .route("/sale/application", post(apply))
        .route("/sale/withdraw", post(withdraw))
}

// ---------------------------------------------------------------------------------------------
// Cookies, sessions and CSRF

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `Secure` when the request reached the proxy over HTTPS (a local plain-HTTP server, as in
/// the demo, would otherwise never get its cookie back).
fn set_cookie(headers: &HeaderMap, name: &str, value: &str, clear: bool) -> HeaderValue {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut text = format!("{name}={value}; Path=/sale; HttpOnly; SameSite=Strict");
    if clear {
        text.push_str("; Max-Age=0");
    }
    if https {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The CSRF token of a signed-in page: only someone holding the session cookie can know it.
fn session_csrf(token: &str) -> String {
    sha256_hex(format!("chiiki-sale-csrf:{token}").as_bytes())
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

struct Resident {
    id: i64,
    name: String,
    token: String,
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<Resident> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let who = auth::authenticate(&state.db, token, state.clock.now())
        .await
        .ok()?;
    if who.kind != PrincipalKind::Resident {
        return None;
    }
    let name = auth::display_name(&state.db, &who).await.ok()?;
    Some(Resident {
        id: who.id,
        name,
        token: token.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let flash = query
        .ok()
        .and_then(|q| q.0.done)
        .and_then(|d| match d.as_str() {
            "applied" => Some("お申し込みを受け付けました。内容は下のとおりです。"),
            "withdrawn" => Some("お申し込みを取り消しました。"),
            "signed-in" => Some("ログインしました。"),
            "signed-out" => Some("ログアウトしました。"),
            _ => None,
        });
    render(&state, &headers, StatusCode::OK, flash, None).await
}

/// Every form's fields; forms that do not use one leave it empty.
#[derive(Deserialize, Default)]
pub struct PageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    sets: String,
}

fn form_fields(form: Result<Form<PageForm>, FormRejection>) -> PageForm {
    form.map(|f| f.0).unwrap_or_default()
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<PageForm>, FormRejection>,
) -> Response {
    let form = form_fields(form);
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(expected, &form.csrf) {
        return forbidden(&state, &headers).await;
    }
    let limited = limit(&state.limits.login_per_ip, &ip, &state)
        .and_then(|_| limit(&state.limits.login_per_account, form.login.trim(), &state));
    if let Err(e) = limited {
        return render(&state, &headers, e.status, None, Some(&e.message)).await;
    }
    // People type phone numbers with hyphens or full-width digits; the login is the digits.
    let login = crate::residents::Phone::parse(&form.login)
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|_| form.login.trim().to_string());
    let session = auth::login(
        &state.db,
        LoginInput {
            login: &login,
            password: &form.password,
            device_name: DEVICE_NAME,
            public_key: None,
        },
        state.clock.now(),
    )
    .await;
    let session = match session {
        Ok(s) if s.resident_id.is_some() => s,
        Ok(s) => {
            // Staff and stores have their own tools; this page is for residents only.
            let _ = auth::revoke_session(&state.db, &s.token, state.clock.now()).await;
            let message = "このページは住民の方のお申し込み用です。アプリと同じ電話番号でログインしてください。";
            return render(&state, &headers, StatusCode::FORBIDDEN, None, Some(message)).await;
        }
        Err(AuthError::InvalidCredentials) | Err(AuthError::Invalid { .. }) => {
            let message =
                "電話番号かパスワードが違います。お確かめのうえ、もう一度入力してください。";
            return render(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                None,
                Some(message),
            )
            .await;
        }
        Err(e) => return failure(&state, &headers, e.into()).await,
    };
    tracing::info!(
        resident_id = session.resident_id,
        "signed in on the sale page"
    );
    let mut response = see_other("/sale?done=signed-in");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, &session.token, false),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(&headers, LOGIN_COOKIE, "", true),
    );
    response
}

/// The signed-in resident, if the form's CSRF token is theirs.
async fn checked(
    state: &AppState,
    headers: &HeaderMap,
    form: &PageForm,
) -> Result<Resident, Response> {
    let Some(resident) = signed_in(state, headers).await else {
        let message = "ログインの有効期限が切れました。もう一度ログインしてください。";
        return Err(render(
            state,
            headers,
            StatusCode::UNAUTHORIZED,
            None,
            Some(message),
        )
        .await);
    };
    if !same(&session_csrf(&resident.token), &form.csrf) {
        return Err(forbidden(state, headers).await);
    }
    Ok(resident)
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PageForm>, FormRejection>,
) -> Response {
    let form = form_fields(form);
    let resident = match checked(&state, &headers, &form).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if let Err(e) = auth::revoke_session(&state.db, &resident.token, state.clock.now()).await {
        return failure(&state, &headers, e.into()).await;
    }
    let mut response = see_other("/sale?done=signed-out");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, "", true),
    );
    response
}

async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PageForm>, FormRejection>,
) -> Response {
    let form = form_fields(form);
    let resident = match checked(&state, &headers, &form).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let sets = form
        .sets
        .trim()
        .parse::<i64>()
        .map_err(|_| crate::sale::SaleError::SetsOutOfRange {
            limit: state.programme.limit_per_resident,
        })
        .and_then(|n| SetCount::parse(n, &state.programme));
    let done = match sets {
        Ok(sets) => {
            applications::apply(
                &state.db,
                &state.programme,
                resident.id,
                sets,
                state.clock.now(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => {
            tracing::info!(resident_id = resident.id, "sale application (page)");
            see_other("/sale?done=applied")
        }
        Err(e) => failure(&state, &headers, e.into()).await,
    }
}

async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<PageForm>, FormRejection>,
) -> Response {
    let form = form_fields(form);
    let resident = match checked(&state, &headers, &form).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    match applications::withdraw(&state.db, &state.programme, resident.id, state.clock.now()).await
    {
        Ok(()) => see_other("/sale?done=withdrawn"),
        Err(e) => failure(&state, &headers, e.into()).await,
    }
}

async fn forbidden(state: &AppState, headers: &HeaderMap) -> Response {
    let message =
        "画面の有効期限が切れたか、正しくない送信です。お手数ですが、もう一度操作してください。";
    render(state, headers, StatusCode::FORBIDDEN, None, Some(message)).await
}

/// Shows a refusal in the resident's words: the Japanese half of the API's message.
async fn failure(state: &AppState, headers: &HeaderMap, error: ApiError) -> Response {
    let japanese = error
        .message
        .split(" / ")
        .next()
        .unwrap_or_default()
        .to_string();
    let japanese = match japanese.split_once(": ") {
        Some((field, rest)) if field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            rest.to_string()
        }
        _ => japanese,
    };
    render(state, headers, error.status, None, Some(&japanese)).await
}

/// The page the admission gate shows when the sale is full.
pub fn busy_page(busy: Busy) -> Response {
    let seconds = busy.retry_after.as_secs().max(1);
    let body = document(
        "ただいま混み合っています",
        &format!(
            "<h1>ただいま混み合っています</h1>\n<p role=\"alert\">お申し込みが集中しています。{seconds}秒ほど待ってから、もう一度このページを開いてください。</p>\n<p><a href=\"/sale\">もう一度開く</a></p>"
        ),
    );
    let mut response = html(StatusCode::SERVICE_UNAVAILABLE, body);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Large, high-contrast, zoomable; no fixed sizes that break at 200 % text.
const STYLE: &str = "html{font-size:125%;}\
body{font-family:sans-serif;line-height:1.7;color:#111;background:#fff;max-width:40rem;margin:0 auto;padding:1rem;}\
h1{font-size:1.6rem;line-height:1.4;}h2{font-size:1.3rem;margin-top:2rem;border-bottom:2px solid #0b5e2b;}\
label,legend{display:block;font-weight:bold;margin-top:1rem;}\
input[type=tel],input[type=password]{font-size:1.2rem;padding:.5rem;width:100%;max-width:20rem;border:2px solid #333;}\
fieldset{border:2px solid #333;padding:1rem;}fieldset label{font-weight:normal;margin:.5rem 0;}\
input[type=radio]{width:1.4rem;height:1.4rem;vertical-align:middle;margin-right:.5rem;}\
button{font-size:1.2rem;padding:.6rem 1.4rem;margin-top:1rem;min-height:3rem;background:#0b5e2b;color:#fff;border:2px solid #0b5e2b;border-radius:.3rem;}\
button.secondary{background:#fff;color:#0b5e2b;}\
:focus{outline:4px solid #f5a000;outline-offset:2px;}\
.notice{border:3px solid #0b5e2b;padding:.8rem;background:#eef7f0;}\
.error{border:3px solid #b00020;padding:.8rem;background:#fdecee;color:#600010;}\
dt{font-weight:bold;}dd{margin:0 0 .6rem 0;}\
table{border-collapse:collapse;}th,td{border:1px solid #333;padding:.4rem;text-align:left;}";

fn document(title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{main}\n</main>\n</body>\n</html>\n",
        esc(title)
    )
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

fn yen(y: Yen) -> String {
    // ¥6,500 reads as "円" more naturally on a page read aloud: 6,500円.
    format!("{}円", y.to_string().trim_start_matches('¥'))
}

/// "2024年11月30日まで" for a midnight deadline, else with the time.
fn until(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&jst());
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        format!("{}まで", format_jst_date(at - chrono::Duration::seconds(1)))
    } else {
        format!("{}まで", format_jst_datetime(at))
    }
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    flash: Option<&str>,
    error: Option<&str>,
) -> Response {
    let p = &state.programme;
    let now = state.clock.now();
    let resident = signed_in(state, headers).await;
    let mut main = String::new();
    main.push_str(&format!(
        "<h1>{}（{}）プレミアム付商品券のお申し込み</h1>\n",
        esc(&p.display_name),
        esc(&p.city.name)
    ));
    main.push_str(&format!(
        "<p>1セット{}で、{}分の商品券（電子地域通貨）をお求めいただけます。お一人{}セットまでです。</p>\n",
        yen(p.set_price),
        yen(p.set_value),
        p.limit_per_resident
    ));
    main.push_str(&format!(
        "<h2>日程</h2>\n<dl>\n<dt>申込期間</dt><dd>{}から{}まで</dd>\n\
         <dt>当選された方のお支払い</dt><dd>{}から{}</dd>\n\
         <dt>追加販売（先着順）</dt><dd>{}から{}まで</dd>\n\
         <dt>商品券が使える期間</dt><dd>{}から{}まで</dd>\n</dl>\n",
        format_date(p.application.first_day),
        format_date(p.application.last_day),
        format_date(p.sale.first_day),
        until(p.winners_pay_by()),
        format_jst_date(p.winners_pay_by()),
        format_date(p.sale.last_day),
        format_date(p.usage.first_day),
        format_date(p.usage.last_day),
    ));
    if let Some(text) = error {
        main.push_str(&format!(
            "<div class=\"error\" role=\"alert\"><p>{}</p></div>\n",
            esc(text)
        ));
    }
    if let Some(text) = flash {
        main.push_str(&format!(
            "<div class=\"notice\" role=\"status\"><p>{}</p></div>\n",
            esc(text)
        ));
    }
    let mut set_login_cookie = None;
    match resident {
        None => {
            let nonce = match cookie(headers, LOGIN_COOKIE) {
                Some(existing) if existing.len() >= 32 && existing.len() <= 64 => {
                    existing.to_string()
                }
                _ => {
                    let fresh = new_token().unwrap_or_default();
                    set_login_cookie = Some(fresh.clone());
                    fresh
                }
            };
            main.push_str(&login_form(&nonce));
        }
        Some(resident) => match purchase::my_sale(&state.db, p, resident.id, now).await {
            Ok(sale) => main.push_str(&signed_in_part(state, &resident, &sale)),
            Err(e) => {
                let e = ApiError::from(e);
                return html(e.status, document("エラー", &esc(&e.message)));
            }
        },
    }
    main.push_str(
        "<h2>抽選について</h2>\n<p>抽選は、公開した手順で行い、申込の一覧（お名前は出しません）、抽選に使った値と結果を\
         <a href=\"/api/v1/sale/draw\">抽選の記録（公開データ）</a>として公表します。どなたでも結果を確かめられます。</p>\n",
    );
    let title = format!("{} お申し込み", p.display_name);
    let mut response = html(status, document(&title, &main));
    if let Some(nonce) = set_login_cookie {
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(headers, LOGIN_COOKIE, &nonce, false),
        );
    }
    response
}

fn login_form(nonce: &str) -> String {
    format!(
        "<h2>ログイン</h2>\n<p>アプリと同じ電話番号とパスワードでログインしてください。アプリをお使いでない方は、市役所の窓口で登録できます。</p>\n\
         <form method=\"post\" action=\"/sale/login\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
         <label for=\"login\">電話番号（例: 09012345678。ハイフンがあってもかまいません）</label>\n\
         <input id=\"login\" name=\"login\" type=\"tel\" inputmode=\"numeric\" autocomplete=\"tel\" required>\n\
         <label for=\"password\">パスワード</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">ログイン</button>\n</form>\n",
        esc(nonce)
    )
}

fn signed_in_part(state: &AppState, resident: &Resident, sale: &MySale) -> String {
    let p = &state.programme;
    let csrf = esc(&session_csrf(&resident.token));
    let mut out = format!(
        "<p>{}さんとしてログインしています。</p>\n\
         <form method=\"post\" action=\"/sale/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" class=\"secondary\">ログアウト</button></form>\n",
        esc(&resident.name)
    );
    out.push_str("<h2>お申し込み</h2>\n");
    match &sale.application {
        Some(a) => out.push_str(&format!(
            "<p>現在のお申し込み: <strong>{}セット</strong>（お支払い{}、{}分）。抽選番号（公開データでのあなたの番号）: {}</p>\n",
            a.sets,
            yen(p.set_price.checked_mul(a.sets).unwrap_or(Yen::ZERO)),
            yen(p.set_value.checked_mul(a.sets).unwrap_or(Yen::ZERO)),
            esc(&a.pseudonym)
        )),
        None => out.push_str("<p>まだお申し込みはありません。</p>\n"),
    }
    match sale.phase {
        SalePhase::ApplicationsOpen => {
            let current = sale.application.as_ref().map_or(1, |a| a.sets);
            out.push_str(&format!(
                "<form method=\"post\" action=\"/sale/application\">\n<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
                 <fieldset>\n<legend>申し込むセット数を選んでください</legend>\n"
            ));
            for n in 1..=p.limit_per_resident {
                let checked = if n == current { " checked" } else { "" };
                out.push_str(&format!(
                    "<label><input type=\"radio\" name=\"sets\" value=\"{n}\"{checked}>{n}セット（お支払い{}、{}分）</label>\n",
                    yen(p.set_price.checked_mul(n).unwrap_or(Yen::ZERO)),
                    yen(p.set_value.checked_mul(n).unwrap_or(Yen::ZERO)),
                ));
            }
            let button = if sale.application.is_some() {
                "この内容に変更する"
            } else {
                "この内容で申し込む"
            };
            out.push_str(&format!(
                "</fieldset>\n<button type=\"submit\">{button}</button>\n</form>\n"
            ));
            out.push_str(&format!(
                "<p>申込期間中（{}まで）は、何度でも変更や取り消しができます。</p>\n",
                format_date(p.application.last_day)
            ));
            if sale.application.is_some() {
                out.push_str(&format!(
                    "<form method=\"post\" action=\"/sale/withdraw\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <button type=\"submit\" class=\"secondary\">お申し込みを取り消す</button></form>\n"
                ));
            }
        }
        SalePhase::NotYetOpen => out.push_str(&format!(
            "<p>お申し込みは{}から受け付けます。</p>\n",
            format_date(p.application.first_day)
        )),
        SalePhase::AwaitingDraw => out.push_str(
            "<p>申込期間は終わりました。抽選の結果はこのページとアプリでお知らせします。</p>\n",
        ),
        _ => out.push_str("<p>申込期間は終わりました。</p>\n"),
    }
    if let Some(result) = &sale.result {
        out.push_str("<h2>抽選の結果</h2>\n");
        if result.won == 0 {
            out.push_str("<p>残念ながら、今回は当選しませんでした。追加販売（先着順）でお求めいただける場合があります。</p>\n");
        } else if result.won < result.requested {
            out.push_str(&format!(
                "<p><strong>{}セットのうち{}セットが当選しました。</strong></p>\n",
                result.requested, result.won
            ));
        } else {
            out.push_str(&format!(
                "<p><strong>{}セットが当選しました。</strong></p>\n",
                result.won
            ));
        }
    }
    if !sale.orders.is_empty() {
        out.push_str("<h2>お支払い</h2>\n");
        for order in &sale.orders {
            let what = match order.channel {
                OrderChannel::Lottery => "当選分",
                OrderChannel::Additional => "追加販売",
            };
            let status = match order.status {
                OrderStatus::Due => format!("お支払い待ち（{}）", until(order.pay_by)),
                OrderStatus::Paid => {
                    "お支払い済み（商品券はアプリの残高に入っています）".to_string()
                }
                OrderStatus::Lapsed => {
                    "期限までにお支払いがなかったため、無効になりました".to_string()
                }
            };
            out.push_str(&format!(
                "<dl>\n<dt>お申し込み番号</dt><dd>{}（{what}）</dd>\n<dt>セット数</dt><dd>{}セット</dd>\n\
                 <dt>お支払い金額</dt><dd>{}（{}分の商品券になります）</dd>\n<dt>状態</dt><dd>{}</dd>\n",
                order.order_id,
                order.sets,
                yen(order.amount),
                yen(order.value),
                esc(&status),
            ));
            if order.status == OrderStatus::Due {
                out.push_str(&format!(
                    "<dt>お支払い方法</dt><dd>市役所・各支所の窓口で現金でお支払いください（この画面か、お申し込み番号{}をお伝えください）。アプリからはオンラインでもお支払いいただけます。</dd>\n",
                    order.order_id
                ));
            }
            out.push_str("</dl>\n");
        }
    }
    if sale.phase == SalePhase::AdditionalSale {
        let remaining = sale.additional_sale.remaining.unwrap_or(0);
        out.push_str(&format!(
            "<h2>追加販売</h2>\n<p>先着順で販売中です（残り{remaining}セット）。アプリまたは市役所の窓口でお求めください。</p>\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; chiiki_sale=tok; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let plain = HeaderMap::new();
        let c = set_cookie(&plain, SESSION_COOKIE, "tok", false);
        assert_eq!(
            c.to_str().unwrap(),
            "chiiki_sale=tok; Path=/sale; HttpOnly; SameSite=Strict"
        );
        let mut behind_tls = HeaderMap::new();
        behind_tls.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            set_cookie(&behind_tls, SESSION_COOKIE, "tok", false)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        assert_eq!(session_csrf("a"), session_csrf("a"));
        assert_ne!(session_csrf("a"), session_csrf("b"));
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }

    #[test]
    fn midnight_deadlines_name_the_last_day() {
        let p = crate::programme::Programme::midori_2024().unwrap();
        assert_eq!(until(p.winners_pay_by()), "2024年11月30日まで");
        assert_eq!(yen(Yen(6500)), "6,500円");
    }
}
