//! The live feed of payments and refunds for store staff: handlers publish an event after the
//! transaction that made it committed; each store's open streams pick out their own store's
//! events. In-process only: with several server processes a stream sees the payments its own
//! process handled, so the store app also refreshes the day's sales (docs/stores.md).

use crate::db::Tx;
use chiiki_core::protocol::{PaymentReceipt, RefundReceipt, StoreEventKind, StorePaymentEvent};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events a slow stream may fall behind by before it misses some (and is told to refresh).
const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct PaymentFeed {
    sender: broadcast::Sender<StorePaymentEvent>,
}

impl Default for PaymentFeed {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        PaymentFeed { sender }
    }
}

impl PaymentFeed {
    /// Tells every open stream; nobody listening is fine.
    pub fn publish(&self, event: StorePaymentEvent) {
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<StorePaymentEvent> {
        self.sender.subscribe()
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
