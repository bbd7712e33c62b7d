//! Test support for the store app: `Till` drives a real `crux_core::Core<StoreApp>` the way the
//! bindings do. The cache lives in memory (a "restart" is a new `Till` over the same cache);
//! every other effect waits for the test to resolve it. Server answers come from
//! `crate::app::testing`.

use std::collections::{BTreeMap, VecDeque};

use crux_core::{Core, Request};
use crux_http::protocol::{HttpRequest, HttpResult};
use crux_kv::{KeyValueOperation, KeyValueResponse, KeyValueResult, Value};
use serde_json::json;

use crate::app::testing::{answer, path_of};
use crate::app::{RandomBytesRequest, ScanRequest, TimerRequest};
use crate::protocol::Industry;
use crate::qr::{self, StoreCodeSpec};

use super::{Effect, Event, FeedRequest, SESSION, STORE_CODE, StoreApp, ViewModel};

pub use crate::app::testing::{SERVER, answer as answer_json, header, json_body, lost, refusal};

pub const TOKEN: &str = "tok-store-1";
pub const STORE_ID: i64 = 7;

pub fn printed_code() -> String {
    qr::encode_store_code(&StoreCodeSpec {
        programme_id: "midori-2024".into(),
        store_id: STORE_ID,
        industry: Industry::Bakery,
        romanised_name: "MIDORI BAKERY".into(),
        romanised_city: "MIDORI".into(),
        postal_code: Some("376-0101".into()),
        name_ja: Some("みどりベーカリー".into()),
        city_ja: Some("みどり市".into()),
    })
    .expect("valid store code")
}

pub fn session_created() -> serde_json::Value {
    json!({ "token": TOKEN, "role": "store_staff", "display_name": "みどりベーカリー",
            "device_id": 40, "store_id": STORE_ID })
}

/// Today's sales holding `payments` as (id, amount, refunded), newest first. A payment's time
/// follows its id (here and in `feed_event`): 501 at 01:00 UTC, 502 at 02:00.
pub fn sales(payments: &[(i64, i64, i64)]) -> serde_json::Value {
    let gross: i64 = payments.iter().map(|p| p.1).sum();
    let lines: Vec<_> = payments
        .iter()
        .map(|(id, amount, refunded)| {
            json!({ "payment_id": id, "amount": amount, "refunded": refunded,
                    "created_at": format!("2025-01-10T0{}:00:00Z", id % 10) })
        })
        .collect();
    json!({ "store_id": STORE_ID, "date": "2025-01-10", "payments": lines,
            "payment_count": payments.len(), "gross": gross, "refund_count": 0,
            "refunds": 0, "net": gross })
}

pub fn charge_receipt(payment_id: i64, amount: i64) -> serde_json::Value {
    json!({ "payment_id": payment_id, "store_id": STORE_ID, "amount": amount,
            "created_at": "2025-01-10T05:00:00Z",
            "message": format!("{} 受け取りました", crate::Yen(amount)) })
}

pub fn feed_event(payment_id: i64, amount: i64) -> crate::protocol::StorePaymentEvent {
    serde_json::from_value(json!({
        "kind": "payment", "payment_id": payment_id, "store_id": STORE_ID, "amount": amount,
        "created_at": format!("2025-01-10T0{}:00:00Z", payment_id % 10),
        "message": format!("{} 受け取りました", crate::Yen(amount))
    }))
    .expect("an event")
}

pub struct Till {
    core: Core<StoreApp>,
    pub cache: BTreeMap<String, Vec<u8>>,
    pub cache_broken: bool,
    waiting: VecDeque<Effect>,
    /// What left the app, in order: `cache set KEY`, `cache delete KEY`, `http METHOD PATH`.
    pub log: Vec<String>,
}

impl Till {
    pub fn with_cache(cache: BTreeMap<String, Vec<u8>>) -> Self {
        Till {
            core: Core::new(),
            cache,
            cache_broken: false,
            waiting: VecDeque::new(),
            log: Vec::new(),
        }
    }

    pub fn launch(&mut self) {
        self.send(Event::Started {
            server_url: SERVER.into(),
            device_name: "レジ1".into(),
        });
    }

    /// Signed in, the store code and today's (empty) sales fetched; the feed request waits.
    pub fn signed_in() -> Self {
        let session =
            json!({ "token": TOKEN, "store_id": STORE_ID, "display_name": "みどりベーカリー" });
        let mut cache = BTreeMap::new();
        cache.insert(SESSION.to_owned(), session.to_string().into_bytes());
        cache.insert(
            STORE_CODE.to_owned(),
            json!(printed_code()).to_string().into_bytes(),
        );
        let mut till = Till::with_cache(cache);
        till.launch();
        till.respond_to(
            "/api/v1/stores/7/code",
            answer(
                200,
                &json!({ "store_id": STORE_ID, "payload": printed_code() }),
            ),
        );
        till.respond_to("/api/v1/store/payments", answer(200, &sales(&[])));
        till
    }

    pub fn send(&mut self, event: Event) {
        let effects = self.core.process_event(event);
        self.arrive(effects);
    }

    pub fn view(&self) -> ViewModel {
        self.core.view()
    }

    fn take_where(&mut self, what: &str, pick: impl Fn(&Effect) -> bool) -> Effect {
        let position = self
            .waiting
            .iter()
            .position(pick)
            .unwrap_or_else(|| panic!("no {what} waiting; waiting: {:?}", self.waiting));
        self.waiting.remove(position).expect("position is valid")
    }

    #[track_caller]
    pub fn take_http(&mut self, path: &str) -> Request<HttpRequest> {
        self.take_where(
            path,
            |e| matches!(e, Effect::Http(r) if path_of(&r.operation) == path),
        )
        .into_http()
        .expect("checked")
    }

    #[track_caller]
    pub fn respond_to(&mut self, path: &str, result: HttpResult) -> HttpRequest {
        let mut request = self.take_http(path);
        let sent = request.operation.clone();
        self.resolve(&mut request, result);
        sent
    }

    pub fn requests_to(&self, path: &str) -> usize {
        self.waiting
            .iter()
            .filter(|e| matches!(e, Effect::Http(r) if path_of(&r.operation) == path))
            .count()
    }

    #[track_caller]
    pub fn take_feed(&mut self) -> Request<FeedRequest> {
        self.take_where("feed", |e| matches!(e, Effect::Feed(_)))
            .into_feed()
            .expect("checked")
    }

    #[track_caller]
    pub fn take_timer(&mut self) -> Request<TimerRequest> {
        self.take_where("timer", |e| matches!(e, Effect::Timer(_)))
            .into_timer()
            .expect("checked")
    }

    #[track_caller]
    pub fn take_random(&mut self) -> Request<RandomBytesRequest> {
        self.take_where("random", |e| matches!(e, Effect::Random(_)))
            .into_random()
            .expect("checked")
    }

    #[track_caller]
    pub fn take_camera(&mut self) -> Request<ScanRequest> {
        self.take_where("camera", |e| matches!(e, Effect::Camera(_)))
            .into_camera()
            .expect("checked")
    }

    pub fn resolve<Op: crux_core::capability::Operation>(
        &mut self,
        request: &mut Request<Op>,
        output: Op::Output,
    ) {
        let effects = self
            .core
            .resolve(request, output)
            .expect("the request expects an answer");
        self.arrive(effects);
    }

    /// Resolve a request that may no longer be wanted (a stopped subscription).
    pub fn try_resolve<Op: crux_core::capability::Operation>(
        &mut self,
        request: &mut Request<Op>,
        output: Op::Output,
    ) -> bool {
        match self.core.resolve(request, output) {
            Ok(effects) => {
                self.arrive(effects);
                true
            }
            Err(_) => false,
        }
    }

    fn arrive(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Render(_) => {}
                Effect::Cache(mut request) => {
                    let output = self.run_cache(&request.operation);
                    let more = self
                        .core
                        .resolve(&mut request, output)
                        .expect("cache requests expect an answer");
                    self.arrive(more);
                }
                Effect::Http(request) => {
                    let op = &request.operation;
                    self.log.push(format!("http {} {}", op.method, path_of(op)));
                    self.waiting.push_back(Effect::Http(request));
                }
                other => self.waiting.push_back(other),
            }
        }
    }

    fn run_cache(&mut self, operation: &KeyValueOperation) -> KeyValueResult {
        let response = match operation {
            KeyValueOperation::Get { key } => KeyValueResponse::Get {
                value: Value::from(self.cache.get(key).cloned()),
            },
            KeyValueOperation::Set { .. } if self.cache_broken => {
                return KeyValueResult::Err {
                    error: crux_kv::KeyValueError::Io {
                        message: "disk full".into(),
                    },
                };
            }
            KeyValueOperation::Set { key, value } => {
                self.log.push(format!("cache set {key}"));
                KeyValueResponse::Set {
                    previous: Value::from(self.cache.insert(key.clone(), value.clone())),
                }
            }
            KeyValueOperation::Delete { key } => {
                self.log.push(format!("cache delete {key}"));
                KeyValueResponse::Delete {
                    previous: Value::from(self.cache.remove(key)),
                }
            }
            other => panic!("the store app does not use {other:?}"),
        };
        KeyValueResult::Ok { response }
    }
}
