//! Any request body: the API's request types parse or refuse, never panic.
#![no_main]

use chiiki_core::protocol::{
    ChargeRequest, CreateSession, PaymentRequest, RefundRequest, RegisterResident,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<PaymentRequest>(data);
    let _ = serde_json::from_slice::<RegisterResident>(data);
    let _ = serde_json::from_slice::<CreateSession>(data);
    let _ = serde_json::from_slice::<RefundRequest>(data);
    let _ = serde_json::from_slice::<ChargeRequest>(data);
});
