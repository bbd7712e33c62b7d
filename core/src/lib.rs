//! Chiiki's shared core: the wire protocol spoken by the app and the server, the QR codecs,
//! and the logic of the resident app (`app`) and of store mode (`store`). Pure: no I/O.

pub mod money;
pub mod protocol;
pub mod time;

pub use money::Yen;
pub mod app;
pub mod qr;
pub mod store;
