//! HTTP for the app's `Http` effect: carries out a `crux_http::protocol::HttpRequest` exactly
//! as the core built it (method, absolute URL, headers, body) with reqwest over rustls.
//!
//! Any completed exchange, 4xx and 5xx included, is `HttpResult::Ok`: the core reads error
//! bodies itself. Only a transport failure is `HttpResult::Err` — `Timeout` when a deadline
//! passed, `Io` otherwise — and the core treats both as "the answer may have been lost".
//! Requests carry bearer tokens and PINs: nothing here logs headers or bodies.

use std::time::Duration;

use crux_http::{
    HttpError,
    protocol::{HttpHeader, HttpRequest, HttpResponse, HttpResult},
};
use reqwest::{Client, Method};

/// How long to wait for a connection before calling the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn client(timeout: Duration) -> reqwest::Result<Client> {
    Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .user_agent(concat!("chiiki-ffi/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub async fn send(client: &Client, request: &HttpRequest) -> HttpResult {
    match exchange(client, request).await {
        Ok(response) => HttpResult::Ok(response),
        Err(error) => HttpResult::Err(error),
    }
}

async fn exchange(client: &Client, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
    let method = Method::from_bytes(request.method.as_bytes())
        .map_err(|_| HttpError::Url(format!("unknown method {:?}", request.method)))?;
    let url = reqwest::Url::parse(&request.url).map_err(|e| HttpError::Url(e.to_string()))?;
    let mut builder = client.request(method, url);
    for header in &request.headers {
        builder = builder.header(&header.name, &header.value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some(HttpHeader {
                name: name.as_str().to_owned(),
                value: value.to_str().ok()?.to_owned(),
            })
        })
        .collect();
    let body = response.bytes().await.map_err(transport)?.to_vec();
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn transport(error: reqwest::Error) -> HttpError {
    if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_builder() {
        HttpError::Url(error.to_string())
    } else {
        // reqwest's Display omits the cause ("error sending request"); keep the chain so a
        // shell's log says whether it was DNS, a refused connection or TLS.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        HttpError::Io(message)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{Read, Write},
        net::TcpListener,
    };

    use super::*;

    /// A one-shot server on a free local port that answers `reply` to the first request.
    fn serve_once(reply: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        format!("http://{address}/api/v1/programme")
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn a_refusal_is_a_completed_exchange_with_its_body() {
        let url = serve_once(
            "HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\ncontent-length: 27\r\nconnection: close\r\n\r\n{\"error\":\"wrong_pin\",\"x\":1}",
        );
        let client = client(Duration::from_secs(5)).expect("client");
        let result = runtime().block_on(send(&client, &HttpRequest::get(url).build()));
        let HttpResult::Ok(response) = result else {
            panic!("expected a response, got {result:?}");
        };
        assert_eq!(response.status, 402);
        assert_eq!(response.body, b"{\"error\":\"wrong_pin\",\"x\":1}");
        assert!(
            response
                .headers
                .iter()
                .any(|h| h.name == "content-type" && h.value == "application/json")
        );
    }

    #[test]
    fn a_server_that_is_not_there_is_a_transport_failure() {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let client = client(Duration::from_secs(5)).expect("client");
        let request = HttpRequest::get(format!("http://127.0.0.1:{port}/")).build();
        let result = runtime().block_on(send(&client, &request));
        assert!(
            matches!(result, HttpResult::Err(HttpError::Io(_))),
            "{result:?}"
        );
    }

    #[test]
    fn a_server_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        let client = client(Duration::from_millis(300)).expect("client");
        let result = runtime().block_on(send(&client, &HttpRequest::get(url).build()));
        assert_eq!(result, HttpResult::Err(HttpError::Timeout));
        drop(listener);
    }
}
