//! Talking to the Chiiki server: building requests for crux_http and turning every answer into
//! either the value asked for or an [`ApiError`] that says whether the server decided.
//!
//! Owns URLs, headers and the reading of error bodies; never decides what a screen shows.

use crux_core::Command;
use crux_http::{Method, Url, command::Http, protocol::HttpRequest};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::protocol::{ErrorBody, ErrorCode, IDEMPOTENCY_KEY_HEADER};

pub type ApiResult<T> = Result<T, ApiError>;

/// An app's effect type that carries HTTP requests (the resident app's and the store app's).
pub trait HttpEffect: Send + From<crux_core::Request<HttpRequest>> + 'static {}

impl<T: Send + From<crux_core::Request<HttpRequest>> + 'static> HttpEffect for T {}

/// Why a request did not give what was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// The server was not reached, or its answer was lost (no signal, timeout).
    #[error("the server could not be reached: {0}")]
    Network(String),
    /// The server answered but could not do it now (5xx, 408, 429); asking again may work.
    #[error("the server could not answer now (HTTP {status})")]
    Busy { status: u16 },
    /// The server decided: it refused the request (4xx) and says why.
    #[error("the server refused the request (HTTP {status}, {code:?}): {message}")]
    Refused {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// The server's answer could not be read.
    #[error("the answer could not be read: {0}")]
    Unreadable(String),
}

impl ApiError {
    /// True when the server took a decision that asking again will not change.
    pub fn is_definite(&self) -> bool {
        matches!(self, ApiError::Refused { .. })
    }

    /// True when the phone could not reach the server.
    pub fn is_network(&self) -> bool {
        matches!(self, ApiError::Network(_))
    }

    /// The server's error code, when it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn from_http(error: crux_http::HttpError) -> Self {
        match error.code() {
            Some(status) if status >= 500 || status == 408 || status == 429 => {
                ApiError::Busy { status }
            }
            Some(status) => {
                let body = error.body_json::<ErrorBody>().ok();
                ApiError::Refused {
                    status,
                    code: body.as_ref().map_or(ErrorCode::Unknown, |b| b.error),
                    message: body.map(|b| b.message).unwrap_or_default(),
                }
            }
            None => match error {
                crux_http::HttpError::Url(_)
                | crux_http::HttpError::Io(_)
                | crux_http::HttpError::Timeout => ApiError::Network(error.to_string()),
                other => ApiError::Unreadable(other.to_string()),
            },
        }
    }
}

/// Where the server is and who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub base: Url,
    pub token: Option<String>,
}

/// One request to the server, described before it becomes an HTTP effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    idempotency_key: Option<String>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }

    /// A POST with `body` as JSON.
    pub fn post(path: impl Into<String>, body: &impl Serialize) -> Self {
        Call {
            method: Method::POST,
            body: Some(serde_json::to_value(body).unwrap_or_default()),
            ..Call::get(path)
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.to_owned());
        self
    }

    /// A PUT with `body` as JSON.
    pub fn put(path: impl Into<String>, body: &impl Serialize) -> Self {
        Call {
            method: Method::PUT,
            ..Call::post(path, body)
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Call {
            method: Method::DELETE,
            ..Call::get(path)
        }
    }

    /// The HTTP effect for this call; `answer` turns the outcome into the app's next event.
    pub fn send<Eff, Ev, T, F>(self, connection: Option<&Connection>, answer: F) -> Command<Eff, Ev>
    where
        Eff: HttpEffect,
        Ev: Send + 'static,
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(ApiResult<T>) -> Ev + Send + 'static,
    {
        let request = match self.request(connection) {
            Ok(request) => request,
            Err(error) => return Command::event(answer(Err(error))),
        };
        request
            .expect_json::<T>()
            .build()
            .map(|result| {
                result
                    .map_err(ApiError::from_http)
                    .and_then(|mut response| {
                        response
                            .take_body()
                            .ok_or_else(|| ApiError::Unreadable("empty body".into()))
                    })
            })
            .then_send(answer)
    }

    /// As `send`, for an answer without a body (`204 No Content`).
    pub fn send_expecting_nothing<Eff, Ev, F>(
        self,
        connection: Option<&Connection>,
        answer: F,
    ) -> Command<Eff, Ev>
    where
        Eff: HttpEffect,
        Ev: Send + 'static,
        F: FnOnce(ApiResult<()>) -> Ev + Send + 'static,
    {
        let request = match self.request(connection) {
            Ok(request) => request,
            Err(error) => return Command::event(answer(Err(error))),
        };
        request
            .build()
            .map(|result| result.map(|_| ()).map_err(ApiError::from_http))
            .then_send(answer)
    }

    fn request<Eff: HttpEffect, Ev: Send + 'static>(
        self,
        connection: Option<&Connection>,
    ) -> ApiResult<crux_http::command::RequestBuilder<Eff, Ev>> {
        let connection = connection.ok_or_else(|| ApiError::Network("no server address".into()))?;
        let url = self.url(&connection.base)?;
        let mut request = Http::<Eff, Ev>::request(self.method, url);
        if let Some(token) = connection.token.as_deref().filter(|t| is_header_safe(t)) {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = self
            .idempotency_key
            .as_deref()
            .filter(|k| is_header_safe(k))
        {
            request = request.header(IDEMPOTENCY_KEY_HEADER, key);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        Ok(request)
    }

    fn url(&self, base: &Url) -> ApiResult<Url> {
        let mut url = base
            .join(&self.path)
            .map_err(|e| ApiError::Network(e.to_string()))?;
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        Ok(url)
    }
}

/// Header values must be visible ASCII, or crux_http would panic building the request.
pub fn is_header_safe(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_with_an_error_body_keeps_its_code_and_message() {
        let error = crux_http::testing::rejection::<Vec<u8>>(
            402,
            r#"{"error":"insufficient_balance","message":"残高が足りません"}"#,
        )
        .expect_err("a 402 is an error");
        let error = ApiError::from_http(error);
        assert!(error.is_definite());
        assert_eq!(error.code(), Some(ErrorCode::InsufficientBalance));
    }

    #[test]
    fn server_failures_and_timeouts_are_not_definite() {
        let busy = crux_http::testing::rejection::<Vec<u8>>(503, "").expect_err("503");
        assert_eq!(ApiError::from_http(busy), ApiError::Busy { status: 503 });
        assert!(ApiError::from_http(crux_http::HttpError::Timeout).is_network());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        let base = Url::parse("https://chiiki.example").expect("valid");
        let url = Call::get("/api/v1/stores")
            .query("since", "2025-01-01T00:00:00+09:00")
            .url(&base)
            .expect("url");
        assert_eq!(
            url.as_str(),
            "https://chiiki.example/api/v1/stores?since=2025-01-01T00%3A00%3A00%2B09%3A00"
        );
    }
}
