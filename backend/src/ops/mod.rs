//! Operations: what keeps the service observable and safe to run — rate limits, metrics, the
//! access log, backups.

pub mod access;
pub mod backup;
pub mod cpu;
pub mod limits;
pub mod logs;
pub mod metrics;
