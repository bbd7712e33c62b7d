//! The offline cache: which parts of the model are kept on the phone, under which keys, and how
//! they are read back at start. Values are JSON (serde_json) in a `crux_kv` store.
//!
//! A value that cannot be read back (an older layout, a damaged file) is treated as absent: the
//! cache must never stop the app from starting.

use crux_core::Command;
use crux_kv::{KeyValueOperation, KeyValueResponse, KeyValueResult, Value};
use serde::{Serialize, de::DeserializeOwned};

use crate::protocol::{Balance, ProgrammeInfo};

use super::{
    Event, Internal,
    effects::Effect,
    model::{Directory, History, Model, PendingPayment, PendingSaleOrder, Session},
};

/// The signed-in device: token, device id, display name. Personal.
pub const SESSION: &str = "session";
/// `protocol::Balance` as last fetched. Personal.
pub const BALANCE: &str = "balance";
/// `model::History`: transactions newest first, and the cursor of the next older page. Personal.
pub const HISTORY: &str = "history";
/// `model::PendingPayment`: a confirmed payment not yet answered by the server. Personal, and
/// holds the PIN until the server answers (the repeat must carry the same body).
pub const PENDING_PAYMENT: &str = "pending_payment";
/// `model::PendingSaleOrder`: sets asked for in the additional sale, with the idempotency key,
/// not yet decided by the server. Personal.
pub const PENDING_SALE_ORDER: &str = "pending_sale_order";
/// `model::Directory`: the stores that accept payments, and the `as_of` of the last sync.
pub const DIRECTORY: &str = "directory";
/// `protocol::ProgrammeInfo`: the programme id that scanned codes must carry, its districts.
pub const PROGRAMME: &str = "programme";

/// Keys removed at logout: everything about the resident, nothing about the city.
pub const PERSONAL: [&str; 5] = [
    SESSION,
    BALANCE,
    HISTORY,
    PENDING_PAYMENT,
    PENDING_SALE_ORDER,
];

/// Everything the cache held at start, still as bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub session: Option<Vec<u8>>,
    pub programme: Option<Vec<u8>>,
    pub balance: Option<Vec<u8>>,
    pub history: Option<Vec<u8>>,
    pub directory: Option<Vec<u8>>,
    pub pending: Option<Vec<u8>>,
    pub pending_sale_order: Option<Vec<u8>>,
}

impl Stored {
    /// Put what could be read into the model.
    pub fn restore_into(self, model: &mut Model) {
        model.session = parse::<Session>(self.session).filter(Session::is_usable);
        model.programme = parse::<ProgrammeInfo>(self.programme);
        if model.session.is_some() {
            model.balance = parse::<Balance>(self.balance);
            model.history = parse::<History>(self.history).unwrap_or_default();
            model.pending = parse::<PendingPayment>(self.pending);
            model.sale.order = parse::<PendingSaleOrder>(self.pending_sale_order)
                .filter(|order| order.idempotency_key.is_some());
        }
        model.directory = parse::<Directory>(self.directory).unwrap_or_default();
    }
}

fn parse<T: DeserializeOwned>(bytes: Option<Vec<u8>>) -> Option<T> {
    serde_json::from_slice(&bytes?).ok()
}

/// Read every key, one after the other, then hand the lot to the app in one event.
pub fn load() -> Command<Effect, Event> {
    Command::new(|ctx| async move {
        let mut stored = Stored::default();
        for (key, slot) in [
            (SESSION, &mut stored.session),
            (PROGRAMME, &mut stored.programme),
            (BALANCE, &mut stored.balance),
            (HISTORY, &mut stored.history),
            (DIRECTORY, &mut stored.directory),
            (PENDING_PAYMENT, &mut stored.pending),
            (PENDING_SALE_ORDER, &mut stored.pending_sale_order),
        ] {
            let answer = ctx
                .request_from_shell(KeyValueOperation::Get { key: key.into() })
                .await;
            *slot = read_value(answer);
        }
        ctx.send_event(Event::Internal(Internal::CacheLoaded(Box::new(stored))));
    })
}

pub fn read_value(answer: KeyValueResult) -> Option<Vec<u8>> {
    match answer {
        KeyValueResult::Ok {
            response:
                KeyValueResponse::Get {
                    value: Value::Bytes(bytes),
                },
        } => Some(bytes),
        _ => None,
    }
}

/// An app's effect type that carries cache operations (the resident app's and the store app's).
pub trait CacheEffect: Send + From<crux_core::Request<KeyValueOperation>> + 'static {}

impl<T: Send + From<crux_core::Request<KeyValueOperation>> + 'static> CacheEffect for T {}

/// Write `value` under `key`, not waiting for the answer.
pub fn save<Eff: CacheEffect, Ev: Send + 'static>(
    key: &str,
    value: &impl Serialize,
) -> Command<Eff, Ev> {
    match serde_json::to_vec(value) {
        Ok(bytes) => Command::request_from_shell(KeyValueOperation::Set {
            key: key.into(),
            value: bytes,
        })
        .build(),
        Err(_) => Command::done(),
    }
}

/// Write `value` under `key`, then send `then(true)` if it was stored, `then(false)` if not.
pub fn save_then<Eff, Ev, F>(key: &str, value: &impl Serialize, then: F) -> Command<Eff, Ev>
where
    Eff: CacheEffect,
    Ev: Send + 'static,
    F: FnOnce(bool) -> Ev + Send + 'static,
{
    match serde_json::to_vec(value) {
        Ok(bytes) => Command::request_from_shell(KeyValueOperation::Set {
            key: key.into(),
            value: bytes,
        })
        .then_send(move |answer| then(matches!(answer, KeyValueResult::Ok { .. }))),
        Err(_) => Command::event(then(false)),
    }
}

/// Remove `key`, not waiting for the answer.
pub fn remove<Eff: CacheEffect, Ev: Send + 'static>(key: &str) -> Command<Eff, Ev> {
    Command::request_from_shell(KeyValueOperation::Delete { key: key.into() }).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_value_is_treated_as_absent() {
        let mut model = Model::default();
        Stored {
            session: Some(b"{not json".to_vec()),
            directory: Some(b"[]".to_vec()),
            ..Stored::default()
        }
        .restore_into(&mut model);
        assert_eq!(model.session, None);
        assert_eq!(model.directory, Directory::default());
    }

    #[test]
    fn personal_data_is_not_restored_without_a_session() {
        let mut model = Model::default();
        let balance = serde_json::json!({
            "total": 6500, "points": 0, "purses": [], "as_of": "2025-01-10T03:00:00Z"
        });
        Stored {
            balance: Some(serde_json::to_vec(&balance).expect("json")),
            ..Stored::default()
        }
        .restore_into(&mut model);
        assert_eq!(model.balance, None);
    }
}
