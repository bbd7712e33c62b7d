//! The store app's live feed (`chiiki_core::store::FeedRequest`): a server-sent event stream
//! read with reqwest, each event resolved into the app as a `FeedUpdate`. Ends with `Refused`
//! or `Dropped` (the app reconnects by itself), or silently when the app no longer wants it.
//! The bearer token is never logged.

use std::{sync::Arc, time::Duration};

use chiiki_core::store::{FeedRequest, FeedUpdate, StoreApp};
use crux_core::Request;

use crate::local::EffectLoop;

/// The server sends a keep-alive comment every 15 s: silence this long means a dead link.
const SILENCE: Duration = Duration::from_secs(45);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn client() -> reqwest::Result<reqwest::Client> {
    // No overall timeout: the stream is meant to stay open.
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(SILENCE)
        .user_agent(concat!("chiiki-ffi/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub fn spawn<L: EffectLoop<App = StoreApp>>(
    engine: &Arc<L>,
    client: reqwest::Client,
    request: Request<FeedRequest>,
) {
    let engine = Arc::clone(engine);
    let runtime = engine.local().runtime.clone();
    runtime.spawn(async move {
        let mut request = Some(request);
        let end = follow(&engine, &client, &mut request).await;
        if let Some(end) = end {
            deliver(&engine, &mut request, end).await;
        }
    });
}

/// Read the stream, delivering each update; returns the final one (`None` when the app let go).
async fn follow<L: EffectLoop<App = StoreApp>>(
    engine: &Arc<L>,
    client: &reqwest::Client,
    request: &mut Option<Request<FeedRequest>>,
) -> Option<FeedUpdate> {
    let (url, token) = match request {
        Some(r) => (r.operation.url.clone(), r.operation.token.clone()),
        None => return None,
    };
    let sent = client
        .get(&url)
        .header("accept", "text/event-stream")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return Some(dropped(&e)),
    };
    let status = response.status().as_u16();
    if status != 200 {
        return Some(FeedUpdate::Refused { status });
    }
    if !deliver(engine, request, FeedUpdate::Connected).await {
        return None;
    }
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => {
                return Some(FeedUpdate::Dropped {
                    reason: "the server ended the stream".into(),
                });
            }
            Err(e) => return Some(dropped(&e)),
        };
        buffer.extend_from_slice(&chunk);
        while let Some((block, rest)) = next_block(&buffer) {
            let update = parse_block(&block);
            buffer = rest;
            if let Some(update) = update
                && !deliver(engine, request, update).await
            {
                return None;
            }
        }
    }
}

fn dropped(error: &reqwest::Error) -> FeedUpdate {
    FeedUpdate::Dropped {
        reason: error.to_string(),
    }
}

/// Resolve one update on a blocking thread and run what it leads to. False when the app no
/// longer listens (the subscription was stopped): the stream is then closed.
async fn deliver<L: EffectLoop<App = StoreApp>>(
    engine: &Arc<L>,
    request: &mut Option<Request<FeedRequest>>,
    update: FeedUpdate,
) -> bool {
    let Some(mut taken) = request.take() else {
        return false;
    };
    let engine = Arc::clone(engine);
    let answer = tokio::task::spawn_blocking(move || {
        let outcome = engine.core().resolve(&mut taken, update);
        match outcome {
            Ok(effects) => {
                engine.run(effects);
                Some(taken)
            }
            Err(_) => None,
        }
    })
    .await;
    *request = answer.ok().flatten();
    request.is_some()
}

/// The first complete event block (up to a blank line) and what follows it. Works on bytes, so
/// that a character split across two chunks is decoded only once it is whole.
fn next_block(buffer: &[u8]) -> Option<(String, Vec<u8>)> {
    let ends = [b"\n\n".as_slice(), b"\r\n\r\n".as_slice()];
    let (at, len) = ends
        .iter()
        .filter_map(|end| {
            buffer
                .windows(end.len())
                .position(|w| w == *end)
                .map(|at| (at, end.len()))
        })
        .min()?;
    let block = String::from_utf8_lossy(&buffer[..at]).replace("\r\n", "\n");
    Some((block, buffer[at + len..].to_vec()))
}

/// An event block as an update; comments (keep-alives) and unknown events are `None`.
fn parse_block(block: &str) -> Option<FeedUpdate> {
    let mut name = "message";
    let mut data = String::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    match name {
        "payment" | "refund" => serde_json::from_str(&data).ok().map(FeedUpdate::Received),
        "resync" => Some(FeedUpdate::Resync),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_updates_and_keep_alives_are_skipped() {
        let stream = b": keep-alive\n\nevent: payment\ndata: {\"kind\":\"payment\",\"payment_id\":5,\"store_id\":7,\"amount\":1200,\"created_at\":\"2025-01-10T05:00:00Z\",\"message\":\"x\"}\r\n\r\nevent: resync\ndata: {}\n\npartial";
        let mut buffer = stream.to_vec();
        let mut updates = Vec::new();
        while let Some((block, rest)) = next_block(&buffer) {
            updates.extend(parse_block(&block));
            buffer = rest;
        }
        assert_eq!(buffer, b"partial");
        assert_eq!(updates.len(), 2);
        assert!(matches!(&updates[0], FeedUpdate::Received(e) if e.payment_id == 5));
        assert_eq!(updates[1], FeedUpdate::Resync);
    }
}
