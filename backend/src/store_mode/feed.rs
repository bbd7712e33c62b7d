//! The live feed of payments and refunds for store staff: handlers publish an event after the
//! transaction that made it committed; each store's open streams pick out their own store's
//! events. On SQLite (one server process) events go straight to the process's streams. On
//! PostgreSQL, where several server processes share the database, every event goes through
//! `NOTIFY` and each process relays what it hears to its own streams, so a store hears a payment
//! whichever process took it.

use crate::db::{Db, Tx};
use chiiki_core::protocol::{PaymentReceipt, RefundReceipt, StoreEventKind, StorePaymentEvent};
use sqlx::postgres::PgListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Events a slow stream may fall behind by before it misses some (and is told to refresh).
const CAPACITY: usize = 1024;

/// PostgreSQL's channel for the feed. Each note is a JSON array of events.
const CHANNEL: &str = "chiiki_store_feed";
/// Events one note carries at most, and its size in bytes at most (PostgreSQL takes up to
/// 8000).
const NOTE_EVENTS: usize = 64;
const NOTE_BYTES: usize = 7000;

/// `events` as JSON arrays of at most [`NOTE_BYTES`] each, in order.
fn notes(events: &[StorePaymentEvent]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut note = String::from("[");
    for event in events {
        let Ok(json) = serde_json::to_string(event) else {
            continue;
        };
        if note.len() > 1 && note.len() + json.len() + 1 > NOTE_BYTES {
            note.push(']');
            notes.push(std::mem::replace(&mut note, String::from("[")));
        }
        if note.len() > 1 {
            note.push(',');
        }
        note.push_str(&json);
    }
    if note.len() > 1 {
        note.push(']');
        notes.push(note);
    }
    notes
}

#[derive(Debug, Clone)]
pub struct PaymentFeed {
    sender: broadcast::Sender<StorePaymentEvent>,
    /// Set while the feed relays through PostgreSQL: events queue here for `NOTIFY`.
    outbox: Arc<Mutex<Option<mpsc::UnboundedSender<StorePaymentEvent>>>>,
}

impl Default for PaymentFeed {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        PaymentFeed {
            sender,
            outbox: Arc::default(),
        }
    }
}

impl PaymentFeed {
    /// Tells every open stream (of every process, when relaying); nobody listening is fine.
    pub fn publish(&self, event: StorePaymentEvent) {
        let unsent = match self.outbox.lock().ok().as_deref() {
            Some(Some(outbox)) => outbox.send(event).err().map(|e| e.0),
            _ => Some(event),
        };
        if let Some(event) = unsent {
            let _ = self.sender.send(event);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StorePaymentEvent> {
        self.sender.subscribe()
    }

    /// On PostgreSQL, starts relaying events through `NOTIFY`/`LISTEN` until the returned guard
    /// is dropped (the server stopped). Nothing to do on SQLite.
    pub async fn relay(&self, db: &Db) -> Result<Option<Relay>, sqlx::Error> {
        let Some(url) = db.postgres_url() else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        let (outbox, mut queue) = mpsc::unbounded_channel::<StorePaymentEvent>();
        let pool = db.writer().clone();
        let local = self.sender.clone();
        // One task sends, in order, whatever has queued up as one note (a busy minute needs a
        // note per batch of payments, not one per payment); if the database cannot take a
        // notification, this process's own streams still hear it (the others' apps refresh
        // the day's sales).
        let notifier = tokio::spawn(async move {
            let mut events = Vec::new();
            while queue.recv_many(&mut events, NOTE_EVENTS).await > 0 {
                for note in notes(&events) {
                    let sent = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(&note)
                        .execute(&pool)
                        .await;
                    if let Err(error) = sent {
                        tracing::warn!(kind = "failure", %error, "store feed: NOTIFY failed");
                        if let Ok(lost) = serde_json::from_str::<Vec<StorePaymentEvent>>(&note) {
                            for event in lost {
                                let _ = local.send(event);
                            }
                        }
                    }
                }
                events.clear();
            }
        });
        let local = self.sender.clone();
        let listening = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(note) => {
                        match serde_json::from_str::<Vec<StorePaymentEvent>>(note.payload()) {
                            Ok(events) => {
                                for event in events {
                                    let _ = local.send(event);
                                }
                            }
                            Err(error) => {
                                tracing::warn!(kind = "failure", %error, "store feed: unreadable note");
                            }
                        }
                    }
                    Err(error) => {
                        // PgListener reconnects on the next call; what was said meanwhile is
                        // lost, which the apps cover by refreshing the day's sales.
                        tracing::warn!(kind = "failure", %error, "store feed: LISTEN lost");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        if let Ok(mut slot) = self.outbox.lock() {
            *slot = Some(outbox);
        }
        Ok(Some(Relay {
            outbox: self.outbox.clone(),
            tasks: [notifier, listening],
        }))
    }
}

/// Relaying through PostgreSQL lasts as long as this lives.
#[derive(Debug)]
pub struct Relay {
    outbox: Arc<Mutex<Option<mpsc::UnboundedSender<StorePaymentEvent>>>>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.outbox.lock() {
            *slot = None;
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// An event made inside a transaction, held until the transaction has committed: handlers
/// publish only after `idempotent::run` returned, so a rolled-back payment is never announced
/// (and a replayed answer is not announced twice, since its work did not run).
#[derive(Debug, Clone, Default)]
pub struct AfterCommit(Arc<Mutex<Option<StorePaymentEvent>>>);

impl AfterCommit {
    pub fn set(&self, event: StorePaymentEvent) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(event);
        }
    }

    pub fn publish(&self, feed: &PaymentFeed) {
        let event = self.0.lock().ok().and_then(|mut slot| slot.take());
        if let Some(event) = event {
            feed.publish(event);
        }
    }
}

pub fn payment_event(receipt: &PaymentReceipt) -> StorePaymentEvent {
    StorePaymentEvent {
        kind: StoreEventKind::Payment,
        payment_id: receipt.payment_id,
        refund_id: None,
        store_id: receipt.store_id,
        amount: receipt.amount,
        created_at: receipt.created_at,
        message: super::received_message(receipt.amount),
    }
}

/// The event for a refund, its store read in the refund's transaction.
pub async fn refund_event(
    tx: &mut Tx,
    receipt: &RefundReceipt,
) -> Result<StorePaymentEvent, sqlx::Error> {
    let store_id = sqlx::query_scalar::<_, i64>("SELECT store_id FROM operations WHERE id = $1")
        .bind(receipt.payment_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(StorePaymentEvent {
        kind: StoreEventKind::Refund,
        payment_id: receipt.payment_id,
        refund_id: Some(receipt.refund_id),
        store_id,
        amount: receipt.amount,
        created_at: receipt.created_at,
        message: super::refunded_message(receipt.amount),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chiiki_core::Yen;

    fn event(id: i64) -> StorePaymentEvent {
        StorePaymentEvent {
            kind: StoreEventKind::Payment,
            payment_id: id,
            refund_id: None,
            store_id: 1,
            amount: Yen(100),
            created_at: chrono::DateTime::UNIX_EPOCH,
            message: "¥100 受け取りました".into(),
        }
    }

    #[test]
    fn notes_carry_every_event_in_order_and_stay_under_postgres_limit() {
        let events: Vec<StorePaymentEvent> = (1..=200).map(event).collect();
        let notes = notes(&events);
        assert!(notes.len() > 1, "200 events do not fit one note");
        assert!(notes.iter().all(|n| n.len() <= NOTE_BYTES), "{notes:?}");
        let heard: Vec<i64> = notes
            .iter()
            .flat_map(|n| serde_json::from_str::<Vec<StorePaymentEvent>>(n).unwrap())
            .map(|e| e.payment_id)
            .collect();
        assert_eq!(heard, (1..=200).collect::<Vec<_>>());
        assert!(super::notes(&[]).is_empty());
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribed() {
        let feed = PaymentFeed::default();
        feed.publish(event(1));
        let mut rx = feed.subscribe();
        feed.publish(event(2));
        assert_eq!(rx.recv().await.unwrap().payment_id, 2);
    }
}
