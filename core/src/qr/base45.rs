//! Base45 (RFC 9285): bytes as text made only of QR alphanumeric-mode characters, which a QR
//! symbol stores in 5.5 bits each. Used for resident codes; small enough to own.

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |value: u32| out.push(char::from(ALPHABET[(value % 45) as usize]));
    for chunk in bytes.chunks(2) {
        match *chunk {
            [a, b] => {
                let n = u32::from(a) << 8 | u32::from(b);
                push(n);
                push(n / 45);
                push(n / (45 * 45));
            }
            [a] => {
                let n = u32::from(a);
                push(n);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

/// `None` for a character outside the alphabet, a dangling single character, or a group whose
/// value does not fit its bytes (RFC 9285 section 4.3 requires rejecting those).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text.bytes().map(digit).collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(digits.len() / 3 * 2 + 1);
    for group in digits.chunks(3) {
        match *group {
            [c, d, e] => {
                let n = c + d * 45 + e * 45 * 45;
                let [_, _, high, low] = u32::to_be_bytes(n);
                if n > 0xFFFF {
                    return None;
                }
                out.extend([high, low]);
            }
            [c, d] => out.push(u8::try_from(c + d * 45).ok()?),
            _ => return None,
        }
    }
    Some(out)
}

fn digit(byte: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == byte)
        .and_then(|p| u32::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_the_rfc_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").as_deref(), Some(&b"ietf!"[..]));
    }

    #[test]
    fn rejects_what_the_rfc_rejects() {
        assert_eq!(decode("GGW"), None); // 65535 + 1
        assert_eq!(decode("A"), None);
        assert_eq!(decode("ab"), None);
        assert_eq!(decode("ÄB8"), None);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
        }

        #[test]
        fn decoding_never_panics(text in any::<String>()) {
            let _ = decode(&text);
        }
    }
}
