//! Reading what residents type: full-width digits, hiragana or katakana, stray spaces. Phones in
//! Japan switch between input modes freely; the app accepts either and never blames the
//! resident for the mode.

/// Full-width ASCII (`１２３ＡＢＣ`) to half-width, the ideographic space to a plain space.
pub fn narrow(text: &str) -> String {
    text.chars().map(narrow_char).collect()
}

fn narrow_char(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The digits of `text`, ignoring separators people type in amounts and numbers
/// (`1,200`, `１２００円`, `¥1200`, `090-1234-5678`). `None` if anything else is in it.
pub fn digits(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in narrow(text).chars() {
        match c {
            '0'..='9' => out.push(c),
            ',' | '、' | ' ' | '-' | 'ー' | '円' | '¥' | '￥' => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Katakana to hiragana, so that either finds the other.
pub fn to_hiragana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{30A1}'..='\u{30F6}' => char::from_u32(u32::from(c) - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Hiragana to katakana (the server wants names' readings in katakana).
pub fn to_katakana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3041}'..='\u{3096}' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// The form in which names are compared when searching: half-width ASCII, lower case,
/// hiragana, no spaces or middle dots.
pub fn search_key(text: &str) -> String {
    to_hiragana(&narrow(text))
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '・' && *c != '･')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_typed_with_full_width_digits_and_commas_are_read() {
        assert_eq!(digits("１，２００円").as_deref(), Some("1200"));
        assert_eq!(digits("¥1,200").as_deref(), Some("1200"));
        assert_eq!(digits("12a"), None);
        assert_eq!(digits(""), None);
    }

    #[test]
    fn searching_ignores_kana_script_width_case_and_spaces() {
        assert_eq!(
            search_key("ミドリ　ベーカリー"),
            search_key("みどりべーかりー")
        );
        assert_eq!(search_key("ＣＡＦＥ"), "cafe");
    }

    #[test]
    fn readings_typed_in_hiragana_become_katakana() {
        assert_eq!(to_katakana("やまだ はなこ"), "ヤマダ ハナコ");
    }
}
