//! What the store app knows. Only `view` turns it into words and figures for the screen.

use crux_http::Url;
use serde::{Deserialize, Serialize};

use crate::{
    Yen,
    app::api::Connection,
    protocol::{StoreChargeReceipt, StoreChargeRequest, StorePaymentEvent, StoreSales},
};

#[derive(Debug, Default)]
pub struct Model {
    pub server: Option<Url>,
    pub device_name: String,
    pub session: Option<Session>,
    /// The store's printed code as the server issues it; amount codes are made from it.
    pub store_code: Option<String>,
    pub screen: Screen,
    /// A login is on its way.
    pub logging_in: bool,
    /// The amount field of the till, as typed.
    pub amount_text: String,
    pub charge: ChargeStep,
    /// A charge that was scanned and kept, waiting for the server's answer.
    pub pending: Option<PendingCharge>,
    pub delivery: Delivery,
    pub feed: Feed,
    pub sales: Sales,
    pub refund: Option<RefundDraft>,
    pub alert: Option<Alert>,
}

impl Model {
    pub fn connection(&self) -> Option<Connection> {
        self.server.clone().map(|base| Connection {
            base,
            token: self.session.as_ref().map(|s| s.token.clone()),
        })
    }

    pub fn signed_in(&self) -> bool {
        self.session.is_some()
    }

    /// Forget the signed-in store (logout, or a session the server no longer accepts).
    pub fn forget_store(&mut self) {
        let feed_generation = self.feed.generation + 1;
        if let Some(handle) = self.feed.handle.take() {
            handle.0.abort();
        }
        *self = Model {
            server: self.server.take(),
            device_name: std::mem::take(&mut self.device_name),
            ..Model::default()
        };
        self.feed.generation = feed_generation;
    }
}

/// The signed-in member of store staff on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub store_id: i64,
    pub display_name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Screen {
    #[default]
    Login,
    Till,
    AmountCode,
    Refund,
}

/// Charging a resident's code, step by step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ChargeStep {
    #[default]
    Idle,
    /// The camera is open for the resident's code.
    Scanning {
        amount: Yen,
    },
    /// Scanned; the idempotency key is being drawn.
    DrawingKey {
        request: StoreChargeRequest,
    },
    /// Kept on the device and sent (again, until the server answers).
    Confirming {
        amount: Yen,
    },
    Done {
        receipt: StoreChargeReceipt,
    },
}

/// A charge not yet answered by the server. Sent again with the same key and body until it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCharge {
    pub idempotency_key: String,
    pub request: StoreChargeRequest,
}

/// Sending state of the pending charge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub in_flight: bool,
    pub attempts: u32,
}

/// The live feed of payments.
#[derive(Debug, Default)]
pub struct Feed {
    /// Bumped for every new subscription; answers of older ones are ignored.
    pub generation: u64,
    pub live: bool,
    /// Reconnections since the feed was last live (for the back-off).
    pub failures: u32,
    /// Newest first; each payment and refund once.
    pub events: Vec<StorePaymentEvent>,
    pub handle: Option<FeedHandle>,
}

/// Stops the current subscription (logout): the bindings then close the stream.
#[derive(Clone)]
pub struct FeedHandle(pub crux_core::command::AbortHandle);

impl std::fmt::Debug for FeedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedHandle")
    }
}

/// Today's sales as the server counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sales {
    pub today: Option<StoreSales>,
    pub loading: bool,
    /// Something landed while loading: load again when this answer is in.
    pub stale: bool,
}

/// A refund being entered or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDraft {
    pub payment_id: i64,
    pub paid: Yen,
    pub refunded: Yen,
    pub amount_text: String,
    pub reason: String,
    /// Drawn once when the refund is first confirmed; kept for every retry.
    pub idempotency_key: Option<String>,
    pub sending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub message: String,
    pub retry: Option<Retry>,
}

impl Alert {
    pub fn new(message: impl Into<String>) -> Self {
        Alert {
            message: message.into(),
            retry: None,
        }
    }

    pub fn with_retry(message: impl Into<String>, retry: Retry) -> Self {
        Alert {
            message: message.into(),
            retry: Some(retry),
        }
    }
}

/// What "もう一度ためす" does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Setup,
    SendCharge,
    SendRefund,
    Sales,
}
