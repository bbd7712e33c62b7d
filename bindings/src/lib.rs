//! chiiki-ffi: the one door that native shells (SwiftUI, Jetpack Compose, the terminal wallet)
//! use to reach the resident app in `chiiki_core::app` and store mode in `chiiki_core::store`
//! (the [`StoreTill`] object, `till.rs`, with its live feed in `feed.rs`).
//!
//! Owns the uniffi facade — a typed [`Wallet`] object, the [`WalletShell`] callback trait that
//! shells implement, and uniffi mirrors of the core's `Event` and `ViewModel` — and the running
//! of every effect that needs no platform: HTTP (reqwest), the offline cache (rusqlite), the
//! clock, timers, secure random bytes and, for shells without a hardware key store, a software
//! P-256 device key. Swift and Kotlin draw, scan, keep the device key and notify; nothing else.
//!
//! It never decides anything the app decides: types are converted field by field, and every
//! word a resident reads comes from the core's view model.
//!
//! Nothing exported here may sit behind `#[cfg]`: uniffi checksums the exported interface, and
//! the committed Swift and Kotlin must match the library built for any target. (The Android
//! TLS start-up in `android` is a plain JNI function, outside uniffi.)

#[cfg(target_os = "android")]
mod android;
mod cache;
mod device_key;
mod error;
mod feed;
mod http;
mod local;
mod till;
mod types;
mod wallet;

pub use error::WalletError;
pub use till::{
    StoreAmountCodeView, StoreChargeView, StoreEvent, StoreFeedLineView, StoreRefundView,
    StoreSaleLineView, StoreScreenView, StoreShell, StoreTill, StoreTillConfig, StoreTillView,
    StoreTodayView, StoreViewModel,
};
pub use types::*;
pub use wallet::{DeviceKeyStore, Wallet, WalletConfig, WalletShell};

uniffi::setup_scaffolding!("chiiki_ffi");
