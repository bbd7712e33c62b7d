//! Chiiki's shared core: the wire protocol spoken by the app and the server, the QR codecs,
//! and the resident app's logic. Pure: this crate never performs I/O.

pub mod money;
pub mod protocol;
pub mod time;

pub use money::Yen;
pub mod app;
pub mod qr;
