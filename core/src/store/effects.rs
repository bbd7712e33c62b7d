//! The effects the store app asks for. It shares the resident app's operation types where the
//! work is the same (HTTP, cache, timer, random bytes, camera) and adds one of its own: the live
//! feed of payments, a subscription that delivers many answers.
//!
//! Never performs any of them: the bindings run HTTP, cache, timers, random bytes and the feed
//! in Rust; the shell draws and scans.

use crux_core::{capability::Operation, macros::effect, render::RenderOperation};
use crux_http::protocol::HttpRequest;
use crux_kv::KeyValueOperation;
use serde::{Deserialize, Serialize};

use crate::app::{RandomBytesRequest, ScanRequest, TimerRequest};
use crate::protocol::StorePaymentEvent;

#[effect]
#[derive(Debug)]
pub enum Effect {
    /// Draw `App::view` again.
    Render(RenderOperation),
    /// An HTTP exchange with the Chiiki server, as in the resident app.
    Http(HttpRequest),
    /// The offline cache, as in the resident app (its own keys, `cache::STORE_…`).
    Cache(KeyValueOperation),
    /// Wake the app later (`TimerRequest` → `()`).
    Timer(TimerRequest),
    /// Secure random bytes (`RandomBytesRequest` → `Vec<u8>`): charge and refund keys.
    Random(RandomBytesRequest),
    /// Platform: open the camera and read the resident's code (`ScanRequest` → `ScanOutcome`).
    Camera(ScanRequest),
    /// The live feed of the store's payments ([`FeedRequest`] → many [`FeedUpdate`]s).
    Feed(FeedRequest),
}

/// Open the server-sent event stream at `url` (`GET`, `Accept: text/event-stream`,
/// `Authorization: Bearer {token}`) and answer with a [`FeedUpdate`] for each thing that
/// happens: `Connected` once the server accepted it, one `Received` per `payment` or `refund`
/// event (its `data` is a `StorePaymentEvent` as JSON), `Resync` per `resync` event, and finally
/// `Refused` or `Dropped`, after which the shell answers no more and lets the request go. The
/// app reconnects by itself with a new request. The token is a secret: never log it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRequest {
    pub url: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedUpdate {
    /// The server accepted the stream (HTTP 200).
    Connected,
    /// A payment or refund landed at the store.
    Received(StorePaymentEvent),
    /// The stream fell behind: reload the day's sales.
    Resync,
    /// The server answered the request with an error status (401: signed out).
    Refused { status: u16 },
    /// The connection could not be made, or ended. `reason` is for logs.
    Dropped { reason: String },
}

impl Operation for FeedRequest {
    type Output = FeedUpdate;
}
