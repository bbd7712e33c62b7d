//! Chiiki's store code (printed, static) and amount code (shown by the store app, dynamic):
//! EMV MPM laid out the JPQR way, with our merchant account template beside any others.
//! Writes only what it has validated; reads any valid EMV code and finds our template in it.
//!
//! Layout written, in this order:
//! 00 "01" · 01 "11" static / "12" dynamic · 27 our template (00 [`CHIIKI_GUID`], 01 programme
//! id, 02 store id) · 52 MCC · 53 "392" · 54 amount in whole yen (dynamic only) · 58 "JP" ·
//! 59 romanised name · 60 romanised city · 61 postal code · 62 (dynamic: 01 bill number,
//! 07 terminal label) · 64 (00 "JA", 01 Japanese name, 02 Japanese city) · 63 CRC.

use super::QrError;
use super::emv::{self, DataObject, Payload};
use crate::Yen;
use crate::protocol::Industry;

/// Sub-tag 00 of our merchant account template: who defines the template's contents.
pub const CHIIKI_GUID: &str = "jp.chiiki";
/// Where our template goes. 26 is the JPQR common template, so ours takes the next slot and a
/// store code can carry both. Readers search all of 26–51 for [`CHIIKI_GUID`].
pub const CHIIKI_TEMPLATE_ID: u8 = 27;
/// EMV limit for tag 59 and tag 64/01.
pub const MAX_NAME_CHARS: usize = 25;
/// EMV limit for tag 60 and tag 64/02.
pub const MAX_CITY_CHARS: usize = 15;
/// Tag 54 is at most 13 characters.
pub const MAX_AMOUNT: Yen = Yen(9_999_999_999_999);

const MAX_PROGRAMME_ID_CHARS: usize = 32;
const MAX_REFERENCE_CHARS: usize = 25;
const STATIC: &str = "11";
const DYNAMIC: &str = "12";
const YEN_CURRENCY: &str = "392";
const JAPAN: &str = "JP";
const JAPANESE: &str = "JA";

mod id {
    pub const INITIATION: u8 = 1;
    pub const MCC: u8 = 52;
    pub const CURRENCY: u8 = 53;
    pub const AMOUNT: u8 = 54;
    pub const COUNTRY: u8 = 58;
    pub const NAME: u8 = 59;
    pub const CITY: u8 = 60;
    pub const POSTAL_CODE: u8 = 61;
    pub const ADDITIONAL: u8 = 62;
    pub const LANGUAGE: u8 = 64;
    pub const MERCHANT_ACCOUNTS: std::ops::RangeInclusive<u8> = 26..=51;
    // Inside our template.
    pub const GUID: u8 = 0;
    pub const PROGRAMME: u8 = 1;
    pub const STORE: u8 = 2;
    // Inside tag 62.
    pub const BILL_NUMBER: u8 = 1;
    pub const TERMINAL_LABEL: u8 = 7;
    // Inside tag 64.
    pub const LANGUAGE_PREFERENCE: u8 = 0;
    pub const ALTERNATE_NAME: u8 = 1;
    pub const ALTERNATE_CITY: u8 = 2;
}

/// What a store's codes say about the store. One spec gives the printed store code and every
/// amount code the store app shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCodeSpec {
    /// The programme (issue) the code pays into, e.g. `midori-2024`: ASCII letters, digits,
    /// `-`, `_`, `.`; at most 32 characters.
    pub programme_id: String,
    /// Positive.
    pub store_id: i64,
    /// Gives tag 52 (MCC).
    pub industry: Industry,
    /// Tag 59: printable ASCII, at most 25 characters.
    pub romanised_name: String,
    /// Tag 60: printable ASCII, at most 15 characters.
    pub romanised_city: String,
    /// Tag 61: seven digits, or `NNN-NNNN` (written without the hyphen).
    pub postal_code: Option<String>,
    /// Tag 64/01: the store's Japanese name, at most 25 characters.
    pub name_ja: Option<String>,
    /// Tag 64/02: the city in Japanese, at most 15 characters; needs `name_ja`.
    pub city_ja: Option<String>,
}

/// What a scanned store or amount code says. `amount` is `Some` exactly for amount codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantCode {
    pub programme_id: String,
    pub store_id: i64,
    pub amount: Option<Yen>,
    pub bill_number: Option<String>,
    pub terminal_label: Option<String>,
    /// Tag 52, four digits.
    pub mcc: String,
    /// Tag 59, the romanised name.
    pub name: String,
    /// Tag 60, the romanised city.
    pub city: String,
    /// Tag 61 as written.
    pub postal_code: Option<String>,
    /// Tag 64/01 when tag 64 is in Japanese.
    pub name_ja: Option<String>,
}

/// The printed, static store code: the resident enters the amount.
pub fn encode_store_code(spec: &StoreCodeSpec) -> Result<String, QrError> {
    encode(spec, None)
}

/// The dynamic amount code the store app shows for one sale.
pub fn encode_amount_code(
    spec: &StoreCodeSpec,
    amount: Yen,
    bill_number: Option<&str>,
    terminal_label: Option<&str>,
) -> Result<String, QrError> {
    if !amount.is_positive() {
        return Err(invalid("amount", "must be positive"));
    }
    if amount > MAX_AMOUNT {
        return Err(invalid("amount", "longer than 13 digits"));
    }
    if let Some(bill) = bill_number {
        check_ascii("bill_number", bill, MAX_REFERENCE_CHARS)?;
    }
    if let Some(label) = terminal_label {
        check_ascii("terminal_label", label, MAX_REFERENCE_CHARS)?;
    }
    encode(
        spec,
        Some(Sale {
            amount,
            bill_number,
            terminal_label,
        }),
    )
}

/// The amount code for one sale, made from the store's printed code as the server issued it
/// (`GET /api/v1/stores/{id}/code`): the store app need not know how the server lays out the
/// store's names, only the amount. Everything but tags 01, 54 and 62 is kept as printed.
pub fn amount_code_from_store_code(
    store_code: &str,
    amount: Yen,
    bill_number: Option<&str>,
) -> Result<String, QrError> {
    let payload = Payload::parse(store_code)?;
    find_our_template(&payload)?;
    if payload.get(id::INITIATION) != Some(STATIC) || payload.get(id::AMOUNT).is_some() {
        return Err(invalid("store_code", "must be a static store code"));
    }
    if !amount.is_positive() {
        return Err(invalid("amount", "must be positive"));
    }
    if amount > MAX_AMOUNT {
        return Err(invalid("amount", "longer than 13 digits"));
    }
    if let Some(bill) = bill_number {
        check_ascii("bill_number", bill, MAX_REFERENCE_CHARS)?;
    }
    // The printed code's tags are in ascending order; the new ones go where they belong.
    let mut objects: Vec<DataObject> = payload
        .objects()
        .iter()
        .filter(|o| !matches!(o.id, 0 | 63 | id::ADDITIONAL))
        .map(|o| match o.id {
            id::INITIATION => DataObject::new(id::INITIATION, DYNAMIC),
            _ => o.clone(),
        })
        .collect();
    let mut insert = |object: DataObject| {
        let at = objects
            .iter()
            .position(|o| o.id > object.id)
            .unwrap_or(objects.len());
        objects.insert(at, object);
    };
    insert(DataObject::new(id::AMOUNT, amount.get().to_string()));
    if let Some(bill) = bill_number {
        let additional = emv::encode_objects(&[DataObject::new(id::BILL_NUMBER, bill)])?;
        insert(DataObject::new(id::ADDITIONAL, additional));
    }
    emv::encode_payload(&objects)
}

struct Sale<'a> {
    amount: Yen,
    bill_number: Option<&'a str>,
    terminal_label: Option<&'a str>,
}

fn encode(spec: &StoreCodeSpec, sale: Option<Sale<'_>>) -> Result<String, QrError> {
    check_programme_id(&spec.programme_id)?;
    if spec.store_id <= 0 {
        return Err(invalid("store_id", "must be positive"));
    }
    check_ascii("romanised_name", &spec.romanised_name, MAX_NAME_CHARS)?;
    check_ascii("romanised_city", &spec.romanised_city, MAX_CITY_CHARS)?;
    let postal_code = spec
        .postal_code
        .as_deref()
        .map(normalise_postal_code)
        .transpose()?;
    if let Some(name) = &spec.name_ja {
        check_text("name_ja", name, MAX_NAME_CHARS)?;
    }
    if let Some(city) = &spec.city_ja {
        check_text("city_ja", city, MAX_CITY_CHARS)?;
        if spec.name_ja.is_none() {
            return Err(invalid("city_ja", "needs name_ja (tag 64 requires a name)"));
        }
    }

    let ours = emv::encode_objects(&[
        DataObject::new(id::GUID, CHIIKI_GUID),
        DataObject::new(id::PROGRAMME, spec.programme_id.as_str()),
        DataObject::new(id::STORE, spec.store_id.to_string()),
    ])?;
    let initiation = if sale.is_some() { DYNAMIC } else { STATIC };
    let mut objects = vec![
        DataObject::new(id::INITIATION, initiation),
        DataObject::new(CHIIKI_TEMPLATE_ID, ours),
        DataObject::new(id::MCC, spec.industry.mcc()),
        DataObject::new(id::CURRENCY, YEN_CURRENCY),
    ];
    if let Some(sale) = &sale {
        objects.push(DataObject::new(id::AMOUNT, sale.amount.get().to_string()));
    }
    objects.push(DataObject::new(id::COUNTRY, JAPAN));
    objects.push(DataObject::new(id::NAME, spec.romanised_name.as_str()));
    objects.push(DataObject::new(id::CITY, spec.romanised_city.as_str()));
    if let Some(postal_code) = postal_code {
        objects.push(DataObject::new(id::POSTAL_CODE, postal_code));
    }
    if let Some(sale) = &sale {
        let mut additional = Vec::new();
        if let Some(bill) = sale.bill_number {
            additional.push(DataObject::new(id::BILL_NUMBER, bill));
        }
        if let Some(label) = sale.terminal_label {
            additional.push(DataObject::new(id::TERMINAL_LABEL, label));
        }
        if !additional.is_empty() {
            objects.push(DataObject::new(
                id::ADDITIONAL,
                emv::encode_objects(&additional)?,
            ));
        }
    }
    if let Some(name) = &spec.name_ja {
        let mut language = vec![
            DataObject::new(id::LANGUAGE_PREFERENCE, JAPANESE),
            DataObject::new(id::ALTERNATE_NAME, name.as_str()),
        ];
        if let Some(city) = &spec.city_ja {
            language.push(DataObject::new(id::ALTERNATE_CITY, city.as_str()));
        }
        objects.push(DataObject::new(
            id::LANGUAGE,
            emv::encode_objects(&language)?,
        ));
    }
    emv::encode_payload(&objects)
}

fn invalid(field: &'static str, reason: &'static str) -> QrError {
    QrError::InvalidSpec { field, reason }
}

fn check_programme_id(programme_id: &str) -> Result<(), QrError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if programme_id.is_empty() || programme_id.len() > MAX_PROGRAMME_ID_CHARS {
        return Err(invalid("programme_id", "must be 1 to 32 characters"));
    }
    if !programme_id.chars().all(allowed) {
        return Err(invalid(
            "programme_id",
            "only ASCII letters, digits, '-', '_', '.'",
        ));
    }
    Ok(())
}

/// Tags 59, 60 and 62's references are read by foreign wallets: printable ASCII only.
fn check_ascii(field: &'static str, value: &str, max_chars: usize) -> Result<(), QrError> {
    if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(invalid(field, "must be printable ASCII (romanised)"));
    }
    check_text(field, value, max_chars)
}

fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), QrError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be blank"));
    }
    if value.chars().count() > max_chars {
        return Err(invalid(field, "too long for its tag"));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "has a control character"));
    }
    Ok(())
}

fn normalise_postal_code(postal_code: &str) -> Result<String, QrError> {
    let digits: String = match postal_code.split_once('-') {
        Some((head, tail)) if head.len() == 3 && tail.len() == 4 => format!("{head}{tail}"),
        _ => postal_code.to_owned(),
    };
    if digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("postal_code", "must be seven digits or NNN-NNNN"));
    }
    Ok(digits)
}

/// Reads a scanned store or amount code for `expected_programme`.
///
/// Accepts any valid EMV MPM payload (JPQR codes carrying several providers' templates
/// included) and looks for our template in tags 26–51. Errors, in the order checked: the EMV
/// envelope ([`QrError::NotAPaymentCode`], [`QrError::TooLong`], [`QrError::BadCrc`],
/// [`QrError::BadTlv`]), [`QrError::NotOurs`], [`QrError::OtherProgramme`], then the fields
/// ([`QrError::BadField`], [`QrError::AmountMissing`], [`QrError::AmountMalformed`],
/// [`QrError::AmountOnStoreCode`]).
pub fn decode_merchant_code(
    payload: &str,
    expected_programme: &str,
) -> Result<MerchantCode, QrError> {
    let payload = Payload::parse(payload)?;
    let ours = find_our_template(&payload)?;
    let programme_id = emv::find(&ours, id::PROGRAMME).ok_or(QrError::BadField {
        field: "programme_id",
        reason: "missing",
    })?;
    if programme_id != expected_programme {
        return Err(QrError::OtherProgramme {
            expected: expected_programme.to_owned(),
            found: programme_id.to_owned(),
        });
    }
    let store_id = parse_store_id(emv::find(&ours, id::STORE))?;

    let dynamic = match payload.get(id::INITIATION) {
        Some(STATIC) => false,
        Some(DYNAMIC) => true,
        _ => {
            return Err(QrError::BadField {
                field: "point_of_initiation",
                reason: "must be 11 or 12",
            });
        }
    };
    if payload.get(id::CURRENCY) != Some(YEN_CURRENCY) {
        return Err(QrError::BadField {
            field: "currency",
            reason: "not yen (392)",
        });
    }
    let amount = match (dynamic, payload.get(id::AMOUNT)) {
        (false, None) => None,
        (false, Some(_)) => return Err(QrError::AmountOnStoreCode),
        (true, None) => return Err(QrError::AmountMissing),
        (true, Some(text)) => Some(parse_yen(text)?),
    };
    let mcc = payload
        .get(id::MCC)
        .filter(|mcc| mcc.len() == 4 && mcc.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(QrError::BadField {
            field: "mcc",
            reason: "must be four digits",
        })?;
    let name = payload.get(id::NAME).ok_or(QrError::BadField {
        field: "name",
        reason: "missing",
    })?;
    let city = payload.get(id::CITY).ok_or(QrError::BadField {
        field: "city",
        reason: "missing",
    })?;

    let additional = payload.template(id::ADDITIONAL)?.unwrap_or_default();
    let language = payload.template(id::LANGUAGE)?.unwrap_or_default();
    let in_japanese = emv::find(&language, id::LANGUAGE_PREFERENCE)
        .is_some_and(|lang| lang.eq_ignore_ascii_case(JAPANESE));
    let name_ja = emv::find(&language, id::ALTERNATE_NAME).filter(|_| in_japanese);

    Ok(MerchantCode {
        programme_id: programme_id.to_owned(),
        store_id,
        amount,
        bill_number: emv::find(&additional, id::BILL_NUMBER).map(str::to_owned),
        terminal_label: emv::find(&additional, id::TERMINAL_LABEL).map(str::to_owned),
        mcc: mcc.to_owned(),
        name: name.to_owned(),
        city: city.to_owned(),
        postal_code: payload.get(id::POSTAL_CODE).map(str::to_owned),
        name_ja: name_ja.map(str::to_owned),
    })
}

/// Our template among tags 26–51. Another provider's template that is not valid TLV is simply
/// not ours: it must not make the code unreadable.
fn find_our_template(payload: &Payload) -> Result<Vec<DataObject>, QrError> {
    let mut found = payload
        .objects()
        .iter()
        .filter(|o| id::MERCHANT_ACCOUNTS.contains(&o.id))
        .filter_map(|o| emv::parse_objects(&o.value).ok())
        .filter(|t| emv::find(t, id::GUID).is_some_and(|g| g.eq_ignore_ascii_case(CHIIKI_GUID)));
    let ours = found.next().ok_or(QrError::NotOurs)?;
    if found.next().is_some() {
        return Err(QrError::BadField {
            field: "merchant_account",
            reason: "more than one Chiiki template",
        });
    }
    Ok(ours)
}

/// Canonical positive decimal (no sign, no leading zero), so one store has one spelling.
fn parse_canonical_positive(text: &str) -> Option<i64> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn parse_store_id(text: Option<&str>) -> Result<i64, QrError> {
    let text = text.ok_or(QrError::BadField {
        field: "store_id",
        reason: "missing",
    })?;
    parse_canonical_positive(text).ok_or(QrError::BadField {
        field: "store_id",
        reason: "not a positive integer",
    })
}

/// Whole yen only: "498" is fine, "498.00", "-5", "0" and "0498" are not.
fn parse_yen(text: &str) -> Result<Yen, QrError> {
    parse_canonical_positive(text)
        .map(Yen)
        .filter(|amount| *amount <= MAX_AMOUNT)
        .ok_or(QrError::AmountMalformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qr::emv::crc16_ccitt_false;
    use proptest::prelude::*;

    const PROGRAMME: &str = "midori-2024";

    fn spec() -> StoreCodeSpec {
        StoreCodeSpec {
            programme_id: PROGRAMME.into(),
            store_id: 42,
            industry: Industry::Cafe,
            romanised_name: "Kissa Midori".into(),
            romanised_city: "Midori".into(),
            postal_code: Some("376-0101".into()),
            name_ja: Some("喫茶みどり".into()),
            city_ja: Some("みどり市".into()),
        }
    }

    /// Re-seals a payload whose body was edited, so that tests reach the checks after the CRC.
    fn reseal(payload: &str) -> String {
        let body = payload.get(..payload.len().saturating_sub(4)).unwrap_or("");
        format!("{body}{:04X}", crc16_ccitt_false(body.as_bytes()))
    }

    #[test]
    fn store_code_has_the_jpqr_layout() {
        let code = encode_store_code(&spec()).unwrap();
        let payload = Payload::parse(&code).unwrap();
        let ids: Vec<u8> = payload.objects().iter().map(|o| o.id).collect();
        assert_eq!(ids, [0, 1, 27, 52, 53, 58, 59, 60, 61, 64, 63]);
        assert_eq!(payload.get(1), Some("11"));
        assert_eq!(payload.get(27), Some("0009jp.chiiki0111midori-2024020242"));
        assert_eq!(payload.get(52), Some("5814"));
        assert_eq!(payload.get(61), Some("3760101"));
        assert_eq!(payload.get(64), Some("0002JA0105喫茶みどり0204みどり市"));
    }

    #[test]
    fn store_code_decodes_without_an_amount() {
        let code = encode_store_code(&spec()).unwrap();
        let decoded = decode_merchant_code(&code, PROGRAMME).unwrap();
        assert_eq!(
            decoded,
            MerchantCode {
                programme_id: PROGRAMME.into(),
                store_id: 42,
                amount: None,
                bill_number: None,
                terminal_label: None,
                mcc: "5814".into(),
                name: "Kissa Midori".into(),
                city: "Midori".into(),
                postal_code: Some("3760101".into()),
                name_ja: Some("喫茶みどり".into()),
            }
        );
    }

    #[test]
    fn amount_code_carries_amount_bill_and_terminal() {
        let code = encode_amount_code(&spec(), Yen(1280), Some("R-0001"), Some("REG2")).unwrap();
        let payload = Payload::parse(&code).unwrap();
        assert_eq!(payload.get(1), Some("12"));
        assert_eq!(payload.get(54), Some("1280"));
        assert_eq!(payload.get(62), Some("0106R-00010704REG2"));
        let decoded = decode_merchant_code(&code, PROGRAMME).unwrap();
        assert_eq!(decoded.amount, Some(Yen(1280)));
        assert_eq!(decoded.bill_number.as_deref(), Some("R-0001"));
        assert_eq!(decoded.terminal_label.as_deref(), Some("REG2"));
    }

    #[test]
    fn an_amount_code_made_from_the_printed_code_equals_one_made_from_the_spec() {
        let printed = encode_store_code(&spec()).expect("store code");
        let made =
            amount_code_from_store_code(&printed, Yen(1200), Some("T-0001")).expect("amount code");
        let expected =
            encode_amount_code(&spec(), Yen(1200), Some("T-0001"), None).expect("amount code");
        assert_eq!(made, expected);
        let read = decode_merchant_code(&made, PROGRAMME).expect("decodes");
        assert_eq!(read.amount, Some(Yen(1200)));
        assert_eq!(read.store_id, 42);
    }

    #[test]
    fn only_a_printed_store_code_and_a_positive_amount_make_an_amount_code() {
        let printed = encode_store_code(&spec()).expect("store code");
        let dynamic = encode_amount_code(&spec(), Yen(500), None, None).expect("amount code");
        assert!(amount_code_from_store_code(&dynamic, Yen(1200), None).is_err());
        assert!(amount_code_from_store_code(&printed, Yen(0), None).is_err());
        assert!(amount_code_from_store_code("not a code", Yen(1200), None).is_err());
    }

    #[test]
    fn another_programmes_code_is_refused_by_name() {
        let code = encode_store_code(&spec()).unwrap();
        assert_eq!(
            decode_merchant_code(&code, "midori-2025"),
            Err(QrError::OtherProgramme {
                expected: "midori-2025".into(),
                found: PROGRAMME.into()
            })
        );
    }

    #[test]
    fn public_jpqr_codes_are_valid_but_not_ours() {
        let jpqr_dynamic = "00020101021226680019jp.or.paymentsjapan01130000000000001020400010306000001040600000152045812530339254034985802JP5903xxx6003xxx6107530000564190002JA0109ナタデココ カフェ63045BA0";
        assert_eq!(
            decode_merchant_code(jpqr_dynamic, PROGRAMME),
            Err(QrError::NotOurs)
        );
    }

    #[test]
    fn our_template_is_found_among_other_providers() {
        // A JPQR code that also carries our template in 27, after JPQR's 26 and two others.
        let code = encode_store_code(&spec()).unwrap();
        let payload = Payload::parse(&code).unwrap();
        let mut objects = vec![
            DataObject::new(29, "0012D156000000000510A93FO3230Q"),
            DataObject::new(
                26,
                "0019jp.or.paymentsjapan011300000000000010204000103060000010406000001",
            ),
        ];
        objects.extend(
            payload
                .objects()
                .iter()
                .filter(|o| o.id != 0 && o.id != 63)
                .cloned(),
        );
        let combined = emv::encode_payload(&objects).unwrap();
        assert_eq!(
            decode_merchant_code(&combined, PROGRAMME).unwrap().store_id,
            42
        );
    }

    #[test]
    fn urls_and_damaged_codes_get_their_own_errors() {
        assert_eq!(
            decode_merchant_code("https://midori.example/pay", PROGRAMME),
            Err(QrError::NotAPaymentCode)
        );
        let code = encode_store_code(&spec()).unwrap();
        let damaged = code.replacen("Kissa", "Kissu", 1);
        assert_eq!(
            decode_merchant_code(&damaged, PROGRAMME),
            Err(QrError::BadCrc)
        );
    }

    #[test]
    fn amount_codes_need_a_well_formed_positive_amount() {
        let code = encode_amount_code(&spec(), Yen(1280), None, None).unwrap();
        let without = reseal(&code.replacen("54041280", "", 1));
        assert_eq!(
            decode_merchant_code(&without, PROGRAMME),
            Err(QrError::AmountMissing)
        );
        for bad in ["5407-1280.0", "54040000", "540401.5", "5404012A", "54010"] {
            let tampered = reseal(&code.replacen("54041280", bad, 1));
            assert_eq!(
                decode_merchant_code(&tampered, PROGRAMME),
                Err(QrError::AmountMalformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn store_codes_must_not_carry_an_amount() {
        let code = encode_amount_code(&spec(), Yen(1280), None, None).unwrap();
        let as_static = reseal(&code.replacen("010212", "010211", 1));
        assert_eq!(
            decode_merchant_code(&as_static, PROGRAMME),
            Err(QrError::AmountOnStoreCode)
        );
    }

    #[test]
    fn encoder_refuses_invalid_specs() {
        let cases: Vec<(&str, StoreCodeSpec)> = vec![
            (
                "programme_id",
                StoreCodeSpec {
                    programme_id: "".into(),
                    ..spec()
                },
            ),
            (
                "programme_id",
                StoreCodeSpec {
                    programme_id: "みどり".into(),
                    ..spec()
                },
            ),
            (
                "store_id",
                StoreCodeSpec {
                    store_id: 0,
                    ..spec()
                },
            ),
            (
                "romanised_name",
                StoreCodeSpec {
                    romanised_name: "喫茶".into(),
                    ..spec()
                },
            ),
            (
                "romanised_name",
                StoreCodeSpec {
                    romanised_name: "A".repeat(26),
                    ..spec()
                },
            ),
            (
                "romanised_name",
                StoreCodeSpec {
                    romanised_name: "  ".into(),
                    ..spec()
                },
            ),
            (
                "romanised_city",
                StoreCodeSpec {
                    romanised_city: "B".repeat(16),
                    ..spec()
                },
            ),
            (
                "postal_code",
                StoreCodeSpec {
                    postal_code: Some("376-010".into()),
                    ..spec()
                },
            ),
            (
                "name_ja",
                StoreCodeSpec {
                    name_ja: Some("あ".repeat(26)),
                    ..spec()
                },
            ),
            (
                "city_ja",
                StoreCodeSpec {
                    name_ja: None,
                    ..spec()
                },
            ),
        ];
        for (field, bad) in cases {
            match encode_store_code(&bad) {
                Err(QrError::InvalidSpec { field: got, .. }) => assert_eq!(got, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        for amount in [Yen(0), Yen(-5), Yen(10_000_000_000_000)] {
            assert!(matches!(
                encode_amount_code(&spec(), amount, None, None),
                Err(QrError::InvalidSpec {
                    field: "amount",
                    ..
                })
            ));
        }
        assert!(matches!(
            encode_amount_code(&spec(), Yen(1), Some("伝票1"), None),
            Err(QrError::InvalidSpec {
                field: "bill_number",
                ..
            })
        ));
    }

    fn printable_ascii(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[ -~]{{1,{max}}}"))
            .unwrap()
            .prop_filter("not blank", |s| !s.trim().is_empty())
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("\\PC{{1,{max}}}"))
            .unwrap()
            .prop_filter("not blank", |s| !s.trim().is_empty())
    }

    fn any_spec() -> impl Strategy<Value = StoreCodeSpec> {
        (
            "[A-Za-z0-9._-]{1,32}",
            1..=i64::MAX,
            proptest::sample::select(Industry::ALL.to_vec()),
            printable_ascii(MAX_NAME_CHARS),
            printable_ascii(MAX_CITY_CHARS),
            proptest::option::of("[0-9]{3}-?[0-9]{4}"),
            proptest::option::of(text(MAX_NAME_CHARS)),
            proptest::option::of(text(MAX_CITY_CHARS)),
        )
            .prop_map(
                |(programme_id, store_id, industry, name, city, postal, name_ja, city_ja)| {
                    StoreCodeSpec {
                        programme_id,
                        store_id,
                        industry,
                        romanised_name: name,
                        romanised_city: city,
                        postal_code: postal,
                        city_ja: city_ja.filter(|_| name_ja.is_some()),
                        name_ja,
                    }
                },
            )
    }

    fn expected(spec: &StoreCodeSpec) -> MerchantCode {
        MerchantCode {
            programme_id: spec.programme_id.clone(),
            store_id: spec.store_id,
            amount: None,
            bill_number: None,
            terminal_label: None,
            mcc: spec.industry.mcc().into(),
            name: spec.romanised_name.clone(),
            city: spec.romanised_city.clone(),
            postal_code: spec.postal_code.as_ref().map(|p| p.replace('-', "")),
            name_ja: spec.name_ja.clone(),
        }
    }

    /// A valid payload with one character replaced, inserted or removed, then re-sealed
    /// half of the time so that the mutation reaches the checks behind the CRC.
    fn mutated(payload: String) -> impl Strategy<Value = String> {
        let len = payload.chars().count();
        (0..len.max(1), any::<char>(), 0..3u8, any::<bool>()).prop_map(
            move |(at, c, how, sealed)| {
                let mut chars: Vec<char> = payload.chars().collect();
                let at = at.min(chars.len().saturating_sub(1));
                match how {
                    0 => chars[at] = c,
                    1 => chars.insert(at, c),
                    _ => {
                        chars.remove(at);
                    }
                }
                let text: String = chars.into_iter().collect();
                if sealed { reseal(&text) } else { text }
            },
        )
    }

    proptest! {
        #[test]
        fn store_codes_round_trip(spec in any_spec()) {
            let code = encode_store_code(&spec).unwrap();
            prop_assert!(code.chars().count() <= emv::MAX_PAYLOAD_CHARS);
            prop_assert_eq!(decode_merchant_code(&code, &spec.programme_id).unwrap(), expected(&spec));
        }

        #[test]
        fn amount_codes_round_trip(
            spec in any_spec(),
            amount in 1..=MAX_AMOUNT.get(),
            bill in proptest::option::of(printable_ascii(25)),
            label in proptest::option::of(printable_ascii(25)),
        ) {
            let code = encode_amount_code(&spec, Yen(amount), bill.as_deref(), label.as_deref()).unwrap();
            let want = MerchantCode {
                amount: Some(Yen(amount)),
                bill_number: bill,
                terminal_label: label,
                ..expected(&spec)
            };
            prop_assert_eq!(decode_merchant_code(&code, &spec.programme_id).unwrap(), want);
        }

        #[test]
        fn decoding_arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decode_merchant_code(&text, PROGRAMME);
        }

        #[test]
        fn decoding_emv_shaped_text_never_panics(body in "[0-9A-Za-z .みどり]{0,300}") {
            let _ = decode_merchant_code(&reseal(&format!("000201{body}63040000")), PROGRAMME);
        }

        #[test]
        fn decoding_mutated_codes_never_panics(
            text in mutated(encode_amount_code(&spec(), Yen(1280), Some("R-1"), Some("T")).unwrap()),
        ) {
            let _ = decode_merchant_code(&text, PROGRAMME);
        }
    }
}
