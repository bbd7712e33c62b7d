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

/// PostgreSQL's channel for the feed.
const CHANNEL: &str = "chiiki_store_feed";

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
        // One task sends, in order; if the database cannot take a notification, this process's
        // own streams still hear it (the others' apps refresh the day's sales).
        let notifier = tokio::spawn(async move {
            while let Some(event) = queue.recv().await {
                let sent = match serde_json::to_string(&event) {
                    Ok(json) => sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(json)
                        .execute(&pool)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(error) = sent {
                    tracing::warn!(kind = "failure", %error, "store feed: NOTIFY failed");
                    let _ = local.send(event);
                }
            }
        });
        let local = self.sender.clone();
        let listening = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(note) => match serde_json::from_str::<StorePaymentEvent>(note.payload()) {
                        Ok(event) => {
                            let _ = local.send(event);
                        }
                        Err(error) => {
                            tracing::warn!(kind = "failure", %error, "store feed: unreadable note");
                        }
                    },
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

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribed() {
        let feed = PaymentFeed::default();
        let event = |id| StorePaymentEvent {
            kind: StoreEventKind::Payment,
            payment_id: id,
            refund_id: None,
            store_id: 1,
            amount: Yen(100),
            created_at: chrono::DateTime::UNIX_EPOCH,
            message: String::new(),
        };
        feed.publish(event(1));
        let mut rx = feed.subscribe();
        feed.publish(event(2));
        assert_eq!(rx.recv().await.unwrap().payment_id, 2);
    }
}
