//! Zengin (全銀協) formats: the half-width kana bank records use, the directory of bank and
//! branch codes, bank accounts, and the 総合振込 transfer file that pays stores. Pure: parsing
//! and bytes only; the settlement module decides who is paid what.

pub mod banks;
pub mod kana;
pub mod transfer;

pub use banks::{BankAccount, BankError, DepositKind};
pub use kana::{KanaError, ZenginText};
