//! Test support: canned server answers, fixtures, and `Phone`, which drives a real
//! `crux_core::Core` the way the bindings will: it keeps the cache in memory (so a "restart" is
//! a new `Phone` over the same cache) and hands every other effect to the test to resolve.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use crux_core::{Core, Request, capability::Operation};
use crux_http::{
    HttpError,
    protocol::{HttpRequest, HttpResponse, HttpResult},
};
use crux_kv::{KeyValueError, KeyValueOperation, KeyValueResponse, KeyValueResult, Value};
use serde::Serialize;
use serde_json::json;

use crate::{
    Yen,
    protocol::{Industry, StoreSummary, Transaction, TransactionKind},
    qr::{self, StoreCodeSpec},
};

use super::{Effect, Event, ResidentApp, ViewModel, effects::Notification};

pub const SERVER: &str = "https://midori.chiiki.example";
pub const PROGRAMME_ID: &str = "midori-2024";
pub const TOKEN: &str = "tok-resident-1";
pub const DEVICE_ID: i64 = 31;

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid RFC 3339 in a test")
        .with_timezone(&Utc)
}

pub fn transaction(id: i64, amount: i64) -> Transaction {
    Transaction {
        id,
        kind: TransactionKind::Payment,
        amount: Yen(amount),
        store_id: Some(7),
        store_name: Some("みどりベーカリー".into()),
        payment_id: None,
        legs: vec![],
        created_at: at("2025-01-01T00:00:00Z") + chrono::Duration::hours(id),
    }
}

pub fn store(id: i64, name: &str, kana: &str, industry: Industry, district: &str) -> StoreSummary {
    StoreSummary {
        id,
        name: name.into(),
        kana: kana.into(),
        industry,
        district: district.into(),
        address: "1-2-3".into(),
        accepts_payments: true,
        updated_at: at("2025-01-01T00:00:00Z"),
    }
}

// ---------------------------------------------------------------------------------------------
// What the server says

pub fn answer(status: u16, body: &impl Serialize) -> HttpResult {
    HttpResult::Ok(
        HttpResponse::status(status)
            .header("content-type", "application/json")
            .json(body)
            .build(),
    )
}

pub fn refusal(status: u16, code: &str) -> HttpResult {
    answer(
        status,
        &json!({ "error": code, "message": "(server wording)" }),
    )
}

/// The request left, but its answer never came back.
pub fn lost() -> HttpResult {
    HttpResult::Err(HttpError::Io("connection reset by peer".into()))
}

pub fn programme() -> serde_json::Value {
    json!({
        "id": PROGRAMME_ID,
        "display_name": "みどり市プレミアム付電子地域通貨",
        "city": "みどり市",
        "set_price": 5000,
        "set_value": 6500,
        "sets_on_sale": 60000,
        "limit_per_resident": 2,
        "application": { "first_day": "2024-10-01", "last_day": "2024-10-21" },
        "sale": { "first_day": "2024-11-01", "last_day": "2024-12-31" },
        "usage": { "first_day": "2024-11-01", "last_day": "2025-02-28" },
        "districts": ["大間々町", "笠懸町", "東町"]
    })
}

pub fn balance(total: i64, points: i64) -> serde_json::Value {
    json!({
        "total": total,
        "points": points,
        "purses": [
            { "kind": "premium", "issue": PROGRAMME_ID, "balance": total,
              "expires_at": "2025-02-28T15:00:00Z" },
            { "kind": "points", "balance": points }
        ],
        "as_of": "2025-01-10T03:00:00Z"
    })
}

pub fn empty_page() -> serde_json::Value {
    json!({ "items": [] })
}

pub fn directory(stores: &[StoreSummary]) -> serde_json::Value {
    json!({ "stores": stores, "as_of": "2025-01-10T03:00:00Z" })
}

pub fn bakery() -> StoreSummary {
    store(
        7,
        "みどりベーカリー",
        "ミドリベーカリー",
        Industry::Bakery,
        "大間々町",
    )
}

fn code_spec(store_id: i64) -> StoreCodeSpec {
    code_spec_of(PROGRAMME_ID, store_id)
}

fn code_spec_of(programme_id: &str, store_id: i64) -> StoreCodeSpec {
    StoreCodeSpec {
        programme_id: programme_id.into(),
        store_id,
        industry: Industry::Bakery,
        romanised_name: "MIDORI BAKERY".into(),
        romanised_city: "MIDORI".into(),
        postal_code: Some("376-0101".into()),
        name_ja: Some("みどりベーカリー".into()),
        city_ja: Some("みどり市".into()),
    }
}

/// The printed code at the till of store `store_id`.
pub fn store_code(store_id: i64) -> String {
    qr::encode_store_code(&code_spec(store_id)).expect("valid store code")
}

/// The printed code of a store in another programme (another city, another year).
pub fn other_programmes_code(programme_id: &str, store_id: i64) -> String {
    qr::encode_store_code(&code_spec_of(programme_id, store_id)).expect("valid store code")
}

/// The code the store app shows for one sale of `amount`.
pub fn amount_code(store_id: i64, amount: i64) -> String {
    qr::encode_amount_code(&code_spec(store_id), Yen(amount), Some("R-0001"), None)
        .expect("valid amount code")
}

pub fn receipt(amount: i64, balance_after: i64) -> serde_json::Value {
    json!({
        "payment_id": 501,
        "store_id": 7,
        "store_name": "みどりベーカリー",
        "amount": amount,
        "legs": [
            { "purse": "points", "amount": -200 },
            { "purse": "premium", "issue": PROGRAMME_ID, "amount": -(amount - 200) }
        ],
        "balance_after": balance_after,
        "created_at": "2025-01-10T03:05:00Z"
    })
}

pub fn session() -> serde_json::Value {
    json!({ "token": TOKEN, "device_id": DEVICE_ID, "resident_id": 12, "display_name": "山田 花子" })
}

/// A cache holding `entries` as an earlier run would have written them.
pub fn cache_of(entries: &[(&str, serde_json::Value)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.to_string().into_bytes()))
        .collect()
}

/// What the cache holds under `key`, as JSON.
pub fn cached(cache: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<serde_json::Value> {
    cache
        .get(key)
        .map(|bytes| serde_json::from_slice(bytes).expect("the app writes JSON"))
}

pub fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

pub fn json_body(request: &HttpRequest) -> serde_json::Value {
    serde_json::from_slice(&request.body).expect("a JSON body")
}

// ---------------------------------------------------------------------------------------------
// The phone

/// A resident's phone: the core, an in-memory cache, and the effects waiting for the test.
pub struct Phone {
    core: Core<ResidentApp>,
    pub cache: BTreeMap<String, Vec<u8>>,
    /// Cache writes fail (a full disk).
    pub cache_broken: bool,
    waiting: VecDeque<Effect>,
    /// What left the app, in order: `cache set KEY`, `cache delete KEY`, `http METHOD PATH`.
    pub log: Vec<String>,
    pub notifications: Vec<Notification>,
}

impl Phone {
    /// A freshly installed app.
    pub fn new() -> Self {
        Phone::with_cache(BTreeMap::new())
    }

    /// An app started over what an earlier run left in the cache.
    pub fn with_cache(cache: BTreeMap<String, Vec<u8>>) -> Self {
        Phone {
            core: Core::new(),
            cache,
            cache_broken: false,
            waiting: VecDeque::new(),
            log: Vec::new(),
            notifications: Vec::new(),
        }
    }

    /// Launch: the cache is read and the refresh requests are waiting.
    pub fn launch(&mut self) {
        self.send(Event::Started {
            server_url: SERVER.into(),
            device_name: "らくらくスマートフォン".into(),
        });
    }

    /// A phone with a signed-in resident whose first refresh has been answered.
    pub fn signed_in() -> Self {
        let mut phone = Phone::with_cache(cache_of(&[(super::SESSION, session())]));
        phone.launch();
        phone.answer_refresh(&balance(6500, 1200), &[bakery()]);
        phone
    }

    /// Answer the four refresh requests (programme, balance, history, directory).
    pub fn answer_refresh(&mut self, balance: &serde_json::Value, stores: &[StoreSummary]) {
        self.respond_to("/api/v1/programme", answer(200, &programme()));
        self.respond_to("/api/v1/me/balance", answer(200, balance));
        self.respond_to("/api/v1/me/transactions", answer(200, &empty_page()));
        self.respond_to("/api/v1/stores", answer(200, &directory(stores)));
    }

    pub fn send(&mut self, event: Event) {
        let effects = self.core.process_event(event);
        self.arrive(effects);
    }

    pub fn view(&self) -> ViewModel {
        self.core.view()
    }

    /// Take the oldest waiting effect of operation `Op`.
    #[track_caller]
    pub fn take<Op>(&mut self) -> Request<Op>
    where
        Op: Operation,
        Request<Op>: TryFrom<Effect, Error = Effect>,
    {
        let position = self
            .waiting
            .iter()
            .position(|e| is::<Op>(e))
            .unwrap_or_else(|| {
                panic!(
                    "no {} effect waiting; waiting: {:?}",
                    std::any::type_name::<Op>(),
                    self.waiting
                )
            });
        let effect = self.waiting.remove(position).expect("position is valid");
        Request::<Op>::try_from(effect).unwrap_or_else(|_| unreachable!("checked above"))
    }

    /// Whether an effect of operation `Op` is waiting.
    pub fn has<Op>(&self) -> bool
    where
        Op: Operation,
        Request<Op>: TryFrom<Effect, Error = Effect>,
    {
        self.waiting.iter().any(is::<Op>)
    }

    /// Take the waiting HTTP request whose path is `path` (query aside).
    #[track_caller]
    pub fn take_http(&mut self, path: &str) -> Request<HttpRequest> {
        let position = self
            .waiting
            .iter()
            .position(|e| matches!(e, Effect::Http(r) if path_of(&r.operation) == path))
            .unwrap_or_else(|| panic!("no request to {path}; waiting: {:?}", self.waiting));
        let effect = self.waiting.remove(position).expect("position is valid");
        effect.into_http().expect("checked above")
    }

    /// Resolve a request taken with `take` or `take_http`.
    pub fn resolve<Op: Operation>(&mut self, request: &mut Request<Op>, output: Op::Output) {
        let effects = self
            .core
            .resolve(request, output)
            .expect("the request expects an answer");
        self.arrive(effects);
    }

    /// Answer the waiting request to `path`, and return it.
    #[track_caller]
    pub fn respond_to(&mut self, path: &str, result: HttpResult) -> HttpRequest {
        let mut request = self.take_http(path);
        let sent = request.operation.clone();
        self.resolve(&mut request, result);
        sent
    }

    /// Number of waiting requests to `path`.
    pub fn requests_to(&self, path: &str) -> usize {
        self.waiting
            .iter()
            .filter(|e| matches!(e, Effect::Http(r) if path_of(&r.operation) == path))
            .count()
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
                Effect::Notify(request) => self.notifications.push(request.operation),
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
                    error: KeyValueError::Io {
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
            KeyValueOperation::Exists { key } => KeyValueResponse::Exists {
                is_present: self.cache.contains_key(key),
            },
            KeyValueOperation::ListKeys { .. } => KeyValueResponse::ListKeys {
                keys: self.cache.keys().cloned().collect(),
                next_cursor: 0,
            },
        };
        KeyValueResult::Ok { response }
    }
}

fn is<Op>(effect: &Effect) -> bool
where
    Op: Operation,
    Request<Op>: TryFrom<Effect, Error = Effect>,
{
    use std::any::{Any, TypeId};
    let id = TypeId::of::<Op>();
    match effect {
        Effect::Render(r) => r.operation.type_id() == id,
        Effect::Http(r) => r.operation.type_id() == id,
        Effect::Cache(r) => r.operation.type_id() == id,
        Effect::Clock(r) => r.operation.type_id() == id,
        Effect::Timer(r) => r.operation.type_id() == id,
        Effect::Random(r) => r.operation.type_id() == id,
        Effect::Camera(r) => r.operation.type_id() == id,
        Effect::DeviceKey(r) => r.operation.type_id() == id,
        Effect::Notify(r) => r.operation.type_id() == id,
    }
}

/// The path of a request's URL, without the server or the query.
pub fn path_of(request: &HttpRequest) -> String {
    crux_http::Url::parse(&request.url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}
