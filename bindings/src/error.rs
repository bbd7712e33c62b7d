//! The errors the facade can raise to a shell. Residents never see these: what goes wrong in
//! the app (no signal, a refused payment, a bad code) is in the view model, worded by the core.
//! These are for the shell's developers and its logs.
//!
//! A flat uniffi error, so that the Kotlin exception's `message` and the Swift error's
//! description carry the `Display` text below rather than a dump of fields.

/// Why a call into the wallet could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum WalletError {
    /// The data directory the shell passed cannot be created or written.
    #[error("the data directory {path} cannot be used: {reason}")]
    DataDirectory { path: String, reason: String },
    /// The offline cache (SQLite) in the data directory cannot be opened.
    #[error("the offline cache cannot be opened: {reason}")]
    Cache { reason: String },
    /// The background runtime or the HTTP client could not be started.
    #[error("the wallet could not start: {reason}")]
    Startup { reason: String },
    /// `resolve_scan` / `resolve_device_key` named a request that is not waiting (already
    /// answered, or never asked).
    #[error("no platform request {request_id} is waiting for an answer")]
    UnknownRequest { request_id: u64 },
    /// `Event.IndustryChosen` carried a code that is not one of `StoresView.industries`.
    #[error("{code:?} is not an industry code")]
    UnknownIndustry { code: String },
}
