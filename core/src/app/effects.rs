//! The effects the resident app asks for, and the operation types of those that are ours.
//!
//! Owns the `Effect` enum and the small operations that crux does not ship (clock, timer, random
//! bytes, camera, device key, notification). It never performs any of them: the bindings run the
//! ones that need no platform (HTTP, cache, clock, timer, random) in Rust, and hand the rest to
//! Swift and Kotlin.

use chrono::{DateTime, Utc};
use crux_core::{Command, capability::Operation, macros::effect, render::RenderOperation};
use crux_http::protocol::HttpRequest;
use crux_kv::KeyValueOperation;
use serde::{Deserialize, Serialize};

use super::Event;

#[effect]
#[derive(Debug)]
pub enum Effect {
    /// Draw `App::view` again.
    Render(RenderOperation),
    /// An HTTP exchange with the Chiiki server (`crux_http::protocol::HttpRequest` →
    /// `crux_http::protocol::HttpResult`).
    Http(HttpRequest),
    /// The offline cache (`crux_kv::KeyValueOperation` → `crux_kv::KeyValueResult`).
    Cache(KeyValueOperation),
    /// The current instant ([`NowRequest`] → `DateTime<Utc>`).
    Clock(NowRequest),
    /// Wake the app later ([`TimerRequest`] → `()`).
    Timer(TimerRequest),
    /// Fresh random bytes from the system's secure generator ([`RandomBytesRequest`] → `Vec<u8>`).
    Random(RandomBytesRequest),
    /// Platform: open the camera and read one QR code ([`ScanRequest`] → [`ScanOutcome`]).
    Camera(ScanRequest),
    /// Platform: the device's P-256 key in the Secure Enclave / Android Keystore
    /// ([`DeviceKeyRequest`] → [`DeviceKeyResponse`]).
    DeviceKey(DeviceKeyRequest),
    /// Platform: show a local notification ([`Notification`] → `()`).
    Notify(Notification),
}

/// Ask for the current instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NowRequest;

impl Operation for NowRequest {
    type Output = DateTime<Utc>;
}

/// Resolve once `millis` milliseconds have passed (never earlier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerRequest {
    pub millis: u64,
}

impl Operation for TimerRequest {
    type Output = ();
}

/// Ask for `len` bytes from a cryptographically secure generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomBytesRequest {
    pub len: u32,
}

impl Operation for RandomBytesRequest {
    type Output = Vec<u8>;
}

/// Open the camera and read one QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRequest;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanOutcome {
    /// The text the QR code carries, exactly as read.
    Scanned { payload: String },
    /// The resident closed the camera.
    Cancelled,
    /// No camera, or permission refused.
    Unavailable,
}

impl Operation for ScanRequest {
    type Output = ScanOutcome;
}

/// The device key: an ECDSA P-256 key that never leaves the phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKeyRequest {
    /// Create the key if there is none yet, and give its public half.
    PublicKey,
    /// Sign `message` (ECDSA P-256 with SHA-256; the platform hashes).
    Sign { message: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKeyResponse {
    /// SEC1 uncompressed point (65 bytes, starting 0x04).
    PublicKey { sec1: Vec<u8> },
    /// The signature as the platform produces it (ASN.1 DER on iOS and Android).
    Signature { bytes: Vec<u8> },
    /// The key store refused or is missing; `reason` is for logs, not for residents.
    Unavailable { reason: String },
}

impl Operation for DeviceKeyRequest {
    type Output = DeviceKeyResponse;
}

/// A local notification, already worded for the resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub title: String,
    pub body: String,
}

impl Operation for Notification {
    type Output = ();
}

/// Redraw.
pub fn render() -> Command<Effect, Event> {
    crux_core::render::render()
}
