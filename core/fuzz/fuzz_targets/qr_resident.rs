//! Any scanned text as a resident code: decoding and checking never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(code) = chiiki_core::qr::decode_resident_code(text)
    {
        let _ = code.check_fresh(1_733_000_000, 30);
        let _ = code.verify(&[4u8; 65]);
    }
});
