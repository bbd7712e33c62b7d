//! EMVCo merchant-presented QR (MPM) data objects: parsing, encoding and the CRC. Knows nothing
//! of Chiiki's own template (see `merchant`). IDs and lengths are two decimal digits, and a
//! length counts characters, never bytes, so Japanese names in tag 64 are measured correctly.

use super::QrError;

/// Longest payload EMV MPM allows, in characters.
pub const MAX_PAYLOAD_CHARS: usize = 512;
/// Tag 00, Payload Format Indicator; always first, always "01".
pub const ID_PAYLOAD_FORMAT: u8 = 0;
/// Tag 63, the CRC; always last, always four hex digits.
pub const ID_CRC: u8 = 63;

/// Every valid payload starts with tag 00 = "01".
const PAYLOAD_PREFIX: &str = "000201";
/// The CRC covers everything up to and including this (tag 63, length 04).
const CRC_HEADER: &str = "6304";

/// One EMV data object: a two-digit id and its value (a primitive, or a nested template's
/// TLV string, which [`parse_objects`] reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataObject {
    pub id: u8,
    pub value: String,
}

impl DataObject {
    /// A data object; [`encode_objects`] checks the value when it is written.
    pub fn new(id: u8, value: impl Into<String>) -> Self {
        DataObject {
            id,
            value: value.into(),
        }
    }
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The first value for `id` in a list of data objects.
pub fn find(objects: &[DataObject], id: u8) -> Option<&str> {
    objects
        .iter()
        .find(|o| o.id == id)
        .map(|o| o.value.as_str())
}

/// Reads a TLV string (a payload, or the value of a template) into its data objects, in order.
/// Rejects truncation, non-digit ids or lengths, empty values, control characters and
/// duplicate ids.
pub fn parse_objects(tlv: &str) -> Result<Vec<DataObject>, QrError> {
    let chars: Vec<char> = tlv.chars().collect();
    let mut objects: Vec<DataObject> = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let header = chars.get(at..at + 4).ok_or(QrError::BadTlv {
            at,
            reason: "truncated data object",
        })?;
        let id = two_digits(header[0], header[1]).ok_or(QrError::BadTlv {
            at,
            reason: "id is not two digits",
        })?;
        let len = usize::from(two_digits(header[2], header[3]).ok_or(QrError::BadTlv {
            at: at + 2,
            reason: "length is not two digits",
        })?);
        if len == 0 {
            return Err(QrError::BadTlv {
                at: at + 2,
                reason: "empty value",
            });
        }
        let start = at + 4;
        let value = chars.get(start..start + len).ok_or(QrError::BadTlv {
            at: at + 2,
            reason: "value runs past the end",
        })?;
        if let Some(offset) = value.iter().position(|c| c.is_control()) {
            return Err(QrError::BadTlv {
                at: start + offset,
                reason: "control character",
            });
        }
        if objects.iter().any(|o| o.id == id) {
            return Err(QrError::BadTlv {
                at,
                reason: "duplicate id",
            });
        }
        objects.push(DataObject {
            id,
            value: value.iter().collect(),
        });
        at = start + len;
    }
    Ok(objects)
}

fn two_digits(tens: char, units: char) -> Option<u8> {
    let tens = tens.to_digit(10)?;
    let units = units.to_digit(10)?;
    u8::try_from(tens * 10 + units).ok()
}

/// A checked EMV MPM payload: tag 00 = "01" first, tag 63 last with a matching CRC, at most
/// [`MAX_PAYLOAD_CHARS`] characters, well-formed data objects. Templates (26–51, 62, 64, 80–99)
/// are left as strings: read the ones you need with [`Payload::template`], so that another
/// provider's odd template never makes a code unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    objects: Vec<DataObject>,
}

impl Payload {
    /// Checks, in this order: the `000201` start ([`QrError::NotAPaymentCode`]), the length
    /// ([`QrError::TooLong`]), the CRC ([`QrError::BadCrc`]), then the structure
    /// ([`QrError::BadTlv`]).
    pub fn parse(payload: &str) -> Result<Payload, QrError> {
        if !payload.starts_with(PAYLOAD_PREFIX) {
            return Err(QrError::NotAPaymentCode);
        }
        let char_count = payload.chars().count();
        if char_count > MAX_PAYLOAD_CHARS {
            return Err(QrError::TooLong);
        }
        // The CRC is checked before the structure, so that a damaged character reads as
        // damage (BadCrc) rather than as whatever structural error it happens to cause.
        let crc_end = char_count.checked_sub(4).ok_or(QrError::BadTlv {
            at: 0,
            reason: "too short",
        })?;
        let (crc_at, _) = payload.char_indices().nth(crc_end).ok_or(QrError::BadTlv {
            at: 0,
            reason: "too short",
        })?;
        let (covered, crc_text) = payload.split_at(crc_at);
        if !covered.ends_with(CRC_HEADER) {
            return Err(QrError::BadTlv {
                at: crc_end,
                reason: "no CRC at the end",
            });
        }
        let crc = parse_hex4(crc_text).ok_or(QrError::BadTlv {
            at: crc_end,
            reason: "CRC is not four hex digits",
        })?;
        if crc != crc16_ccitt_false(covered.as_bytes()) {
            return Err(QrError::BadCrc);
        }

        let objects = parse_objects(payload)?;
        // "6304…" at the end might be the tail of another object's value.
        if objects.last().map(|o| o.id) != Some(ID_CRC) {
            return Err(QrError::BadTlv {
                at: crc_end,
                reason: "CRC is not the last object",
            });
        }
        Ok(Payload { objects })
    }

    /// Every data object in payload order, tag 00 and tag 63 included.
    pub fn objects(&self) -> &[DataObject] {
        &self.objects
    }

    /// The value of top-level tag `id`.
    pub fn get(&self, id: u8) -> Option<&str> {
        find(&self.objects, id)
    }

    /// The data objects inside template `id`, if the payload has it.
    pub fn template(&self, id: u8) -> Result<Option<Vec<DataObject>>, QrError> {
        self.get(id).map(parse_objects).transpose()
    }
}

fn parse_hex4(text: &str) -> Option<u16> {
    if text.len() != 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Writes data objects as `IDLLvalue…`, in the order given (also used for templates).
pub fn encode_objects(objects: &[DataObject]) -> Result<String, QrError> {
    let mut out = String::new();
    for object in objects {
        if object.id > 99 {
            return Err(QrError::InvalidSpec {
                field: "data object",
                reason: "id above 99",
            });
        }
        let len = object.value.chars().count();
        if !(1..=99).contains(&len) {
            return Err(QrError::InvalidSpec {
                field: "data object",
                reason: "value must be 1 to 99 characters",
            });
        }
        if object.value.chars().any(char::is_control) {
            return Err(QrError::InvalidSpec {
                field: "data object",
                reason: "value has a control character",
            });
        }
        out.push_str(&format!("{:02}{:02}", object.id, len));
        out.push_str(&object.value);
    }
    Ok(out)
}

/// Builds a complete payload: tag 00 = "01" first, then `objects` in the order given, then
/// tag 63 with the CRC. `objects` must not contain tag 00 or 63.
pub fn encode_payload(objects: &[DataObject]) -> Result<String, QrError> {
    if objects
        .iter()
        .any(|o| o.id == ID_PAYLOAD_FORMAT || o.id == ID_CRC)
    {
        return Err(QrError::InvalidSpec {
            field: "data object",
            reason: "tags 00 and 63 are written by the encoder",
        });
    }
    let mut payload = String::from(PAYLOAD_PREFIX);
    payload.push_str(&encode_objects(objects)?);
    payload.push_str(CRC_HEADER);
    let crc = crc16_ccitt_false(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
    if payload.chars().count() > MAX_PAYLOAD_CHARS {
        return Err(QrError::TooLong);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The public vectors as shipped in `../shared/vectors` beside the repository.
    const SHARED_VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/emv-mpm.tsv"
    );
    /// The same file kept in the repository, so that a clone on its own runs the tests.
    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/emv-mpm.tsv");

    #[test]
    fn the_kept_vectors_are_the_shared_ones() {
        // Only checkable where shared/ sits beside the clone.
        if let Ok(shared) = std::fs::read_to_string(SHARED_VECTORS) {
            let kept = std::fs::read_to_string(VECTORS).expect("kept vectors");
            assert_eq!(
                kept, shared,
                "core/tests/vectors/emv-mpm.tsv differs from {SHARED_VECTORS}"
            );
        }
    }

    struct Vector {
        name: String,
        crc_ok: bool,
        payload: String,
    }

    fn vectors() -> Vec<Vector> {
        let text = std::fs::read_to_string(VECTORS)
            .unwrap_or_else(|e| panic!("cannot read the public EMV vectors at {VECTORS} : {e}"));
        let vectors: Vec<Vector> = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                assert_eq!(fields.len(), 3, "bad vector line: {line}");
                let crc_ok = match fields[1] {
                    "yes" => true,
                    "no" => false,
                    other => panic!("crc_ok must be yes or no, not {other}"),
                };
                Vector {
                    name: fields[0].into(),
                    crc_ok,
                    payload: fields[2].into(),
                }
            })
            .collect();
        assert!(!vectors.is_empty(), "no vectors in {VECTORS}");
        vectors
    }

    #[test]
    fn crc_matches_the_catalogue_check_value() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    }

    #[test]
    fn every_public_vector_gets_the_right_crc_verdict() {
        for v in vectors() {
            let parsed = Payload::parse(&v.payload);
            if v.crc_ok {
                let payload = parsed.unwrap_or_else(|e| panic!("{}: {e}", v.name));
                assert_eq!(payload.objects()[0], DataObject::new(0, "01"), "{}", v.name);
            } else {
                assert_eq!(parsed, Err(QrError::BadCrc), "{}", v.name);
            }
        }
    }

    #[test]
    fn valid_vectors_re_encode_to_the_same_payload() {
        for v in vectors().into_iter().filter(|v| v.crc_ok) {
            let payload = Payload::parse(&v.payload).unwrap();
            let inner: Vec<DataObject> = payload
                .objects()
                .iter()
                .filter(|o| o.id != ID_PAYLOAD_FORMAT && o.id != ID_CRC)
                .cloned()
                .collect();
            assert_eq!(encode_payload(&inner).unwrap(), v.payload, "{}", v.name);
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let annex = vectors()
            .into_iter()
            .find(|v| v.name == "emvco-annex-b7")
            .unwrap();
        let payload = Payload::parse(&annex.payload).unwrap();
        let language = payload.template(64).unwrap().unwrap();
        assert_eq!(find(&language, 0), Some("ZH"));
        assert_eq!(find(&language, 1), Some("最佳运输"));
        assert_eq!(find(&language, 2), Some("北京"));
        let additional = payload.template(62).unwrap().unwrap();
        assert_eq!(find(&additional, 7), Some("A6008667"));
    }

    #[test]
    fn urls_and_text_are_not_payment_codes() {
        for text in [
            "https://example.jp/pay?x=1",
            "",
            "hello",
            "０００２０１",
            "CKR:ABC",
        ] {
            assert_eq!(
                Payload::parse(text),
                Err(QrError::NotAPaymentCode),
                "{text}"
            );
        }
    }

    #[test]
    fn structural_errors_are_reported_as_bad_tlv() {
        // Truncated value: the CRC still matches what is there, the structure does not.
        let bad = encode_raw("000201" /* 00 */, "5909ABC");
        assert!(
            matches!(Payload::parse(&bad), Err(QrError::BadTlv { .. })),
            "{bad}"
        );
        // "6304" hidden at the end of another object's value.
        let hidden = seal("00020159086304");
        assert!(
            matches!(Payload::parse(&hidden), Err(QrError::BadTlv { .. })),
            "{hidden}"
        );
        // Duplicate tag.
        let dup = seal("0002015802JP5802JP6304");
        assert!(
            matches!(Payload::parse(&dup), Err(QrError::BadTlv { .. })),
            "{dup}"
        );
        // No CRC at all.
        assert!(matches!(
            Payload::parse("000201"),
            Err(QrError::BadTlv { .. })
        ));
    }

    #[test]
    fn payloads_over_512_characters_are_too_long() {
        let long = seal(&format!(
            "000201{}6304",
            format!("5999{}", "A".repeat(99)).repeat(5)
        ));
        assert_eq!(Payload::parse(&long), Err(QrError::TooLong));
        let objects: Vec<DataObject> = (80..86)
            .map(|id| DataObject::new(id, "Y".repeat(99)))
            .collect();
        assert_eq!(encode_payload(&objects), Err(QrError::TooLong));
    }

    #[test]
    fn encoder_rejects_values_it_cannot_write() {
        for objects in [
            vec![DataObject::new(59, "")],
            vec![DataObject::new(59, "x".repeat(100))],
            vec![DataObject::new(100, "x")],
            vec![DataObject::new(59, "a\nb")],
            vec![DataObject::new(63, "ABCD")],
        ] {
            assert!(
                matches!(encode_payload(&objects), Err(QrError::InvalidSpec { .. })),
                "{objects:?}"
            );
        }
    }

    fn seal(without_crc: &str) -> String {
        format!(
            "{without_crc}{:04X}",
            crc16_ccitt_false(without_crc.as_bytes())
        )
    }

    fn encode_raw(prefix: &str, body: &str) -> String {
        seal(&format!("{prefix}{body}6304"))
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,600}") {
            let _ = Payload::parse(&text);
            let _ = parse_objects(&text);
        }

        #[test]
        fn encoded_objects_parse_back(values in proptest::collection::vec("\\PC{1,99}", 1..4)) {
            let objects: Vec<DataObject> = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| DataObject::new(80 + i as u8, v))
                .collect();
            let payload = encode_payload(&objects);
            prop_assume!(payload.is_ok());
            let payload = payload.unwrap();
            let parsed = Payload::parse(&payload).unwrap();
            prop_assert_eq!(&parsed.objects()[1..parsed.objects().len() - 1], &objects[..]);
        }
    }
}
