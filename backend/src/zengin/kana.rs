//! Zengin kana: the characters a 全銀協 (Zengin) transfer record may carry in its name fields,
//! and the conversion of what people type (full-width katakana, hiragana, full-width letters,
//! company forms such as 株式会社) into them. Pure: no I/O, no tables outside this file.
//!
//! Zengin names are JIS X 0201: half-width katakana (ｱ–ﾝ, with ﾞ and ﾟ as separate
//! characters), digits, upper-case Latin letters, space and a few symbols. Small kana are
//! written large (ｯ→ﾂ), the long vowel mark as a hyphen, ｦ as ｵ (banks refuse ｦ), and company
//! forms as the bank's abbreviations: 株式会社ミドリ → ｶ)ﾐﾄﾞﾘ, ミドリ株式会社 → ﾐﾄﾞﾘ(ｶ,
//! ミドリ株式会社大間々支店 → ﾐﾄﾞﾘ(ｶ)ｵｵﾏﾏｼﾃﾝ. Anything else (kanji, emoji, …) cannot be
//! converted and is refused, naming the characters, never guessed.

use std::fmt;

/// Company forms and their Zengin abbreviations (全銀協の法人略語). Longer forms come first so
/// that 一般社団法人 is not read as 社団法人.
const COMPANY_FORMS: &[(&str, &str)] = &[
    ("特定非営利活動法人", "ﾄｸﾋ"),
    ("一般社団法人", "ｼﾔ"),
    ("一般財団法人", "ｻﾞｲ"),
    ("公益社団法人", "ｼﾔ"),
    ("公益財団法人", "ｻﾞｲ"),
    ("社会福祉法人", "ﾌｸ"),
    ("医療法人社団", "ｲ"),
    ("医療法人財団", "ｲ"),
    ("カブシキガイシャ", "ｶ"),
    ("カブシキカイシャ", "ｶ"),
    ("ユウゲンガイシャ", "ﾕ"),
    ("ユウゲンカイシャ", "ﾕ"),
    ("ゴウドウガイシャ", "ﾄﾞ"),
    ("ゴウドウカイシャ", "ﾄﾞ"),
    ("農事組合法人", "ﾉｳ"),
    ("株式会社", "ｶ"),
    ("有限会社", "ﾕ"),
    ("合同会社", "ﾄﾞ"),
    ("合名会社", "ﾒ"),
    ("合資会社", "ｼ"),
    ("医療法人", "ｲ"),
    ("社団法人", "ｼﾔ"),
    ("財団法人", "ｻﾞｲ"),
    ("学校法人", "ｶﾞｸ"),
    ("宗教法人", "ｼﾕｳ"),
    ("(株)", "ｶ"),
    ("(有)", "ﾕ"),
    ("(同)", "ﾄﾞ"),
    ("㈱", "ｶ"),
    ("㈲", "ﾕ"),
];

/// Why a text cannot be written in Zengin kana.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KanaError {
    #[error("nothing to convert")]
    Empty,
    /// The characters that have no Zengin form, each once, in the order they appear.
    #[error("cannot be written in Zengin kana: {}", quoted(.0))]
    Unconvertible(Vec<char>),
    /// Longer, after conversion, than the record field holds.
    #[error("{len} characters after conversion, at most {max} fit")]
    TooLong { len: usize, max: usize },
}

fn quoted(chars: &[char]) -> String {
    chars.iter().map(|c| format!("「{c}」")).collect()
}

impl KanaError {
    /// A plain Japanese explanation naming what is wrong.
    pub fn message_ja(&self) -> String {
        match self {
            KanaError::Empty => "口座名義をカナで入力してください。".into(),
            KanaError::Unconvertible(chars) => format!(
                "{}は口座名義（半角カナ）に変換できません。通帳に書かれているカナで入力してください。",
                quoted(chars)
            ),
            KanaError::TooLong { len, max } => format!(
                "口座名義が長すぎます（半角で{len}文字、{max}文字まで）。銀行に届けている略称で入力してください。"
            ),
        }
    }
}

/// Text made only of characters a Zengin record accepts, at most a given number of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZenginText(String);

impl ZenginText {
    /// Converts `input` and checks it fits in `max` characters (= bytes once encoded).
    pub fn parse(input: &str, max: usize) -> Result<ZenginText, KanaError> {
        let text = to_zengin_kana(input)?;
        let len = text.chars().count();
        if len > max {
            return Err(KanaError::TooLong { len, max });
        }
        Ok(ZenginText(text))
    }

    /// Converts `input`, cutting it to `max` characters; for names the bank only shows, such as
    /// a bank's or branch's name, where a long name is abbreviated rather than refused.
    pub fn truncated(input: &str, max: usize) -> Result<ZenginText, KanaError> {
        let mut text: String = to_zengin_kana(input)?.chars().take(max).collect();
        // A voicing mark whose kana was cut off would change the next field's first letter.
        while text.starts_with(['ﾞ', 'ﾟ']) {
            text.remove(0);
        }
        Ok(ZenginText(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Characters, which in JIS X 0201 are also bytes.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The JIS X 0201 bytes: ASCII as is, half-width katakana U+FF61–U+FF9F as 0xA1–0xDF.
    pub fn to_jis_x0201(&self) -> Vec<u8> {
        self.0.chars().filter_map(jis_x0201_byte).collect()
    }
}

impl fmt::Display for ZenginText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The byte for a character of the Zengin set; `None` for anything else.
pub fn jis_x0201_byte(c: char) -> Option<u8> {
    match c {
        ' '..='~' => u8::try_from(u32::from(c)).ok(),
        '\u{FF61}'..='\u{FF9F}' => u8::try_from(u32::from(c) - 0xFEC0).ok(),
        _ => None,
    }
}

/// Whether a character may appear in a Zengin name field.
pub fn is_zengin_char(c: char) -> bool {
    matches!(c,
        '0'..='9' | 'A'..='Z' | ' ' | '(' | ')' | '-' | '.' | '/' | ',' | '｢' | '｣'
        | 'ｱ'..='ﾝ' | 'ﾞ' | 'ﾟ')
}

/// Converts what a person typed into Zengin kana (without a length limit).
pub fn to_zengin_kana(input: &str) -> Result<String, KanaError> {
    let widened = normalise_width(input);
    let with_forms = abbreviate_company_forms(widened.trim());
    let mut out = String::with_capacity(with_forms.len());
    let mut bad: Vec<char> = Vec::new();
    for c in with_forms.chars() {
        match half_width(c) {
            Some(converted) => out.push_str(converted),
            None => {
                if !bad.contains(&c) {
                    bad.push(c);
                }
            }
        }
    }
    if !bad.is_empty() {
        return Err(KanaError::Unconvertible(bad));
    }
    let out = collapse_spaces(out.trim());
    if out.is_empty() {
        return Err(KanaError::Empty);
    }
    Ok(out)
}

/// Full-width ASCII and spaces become ASCII, parentheses included (so that （株） is found as
/// a company form), hiragana become katakana, and lower-case letters upper-case.
fn normalise_width(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(u32::from(c) + 0x60).unwrap_or(c),
            other => other,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Replaces every company form with its abbreviation, marked by position: a leading form is
/// followed by `)`, a trailing one preceded by `(`, one in the middle is enclosed in both.
/// Spaces next to a form are dropped (株式会社 ミドリ → ｶ)ﾐﾄﾞﾘ).
fn abbreviate_company_forms(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let found = COMPANY_FORMS
            .iter()
            .find(|(form, _)| rest.starts_with(form));
        match found {
            Some((form, short)) => {
                let after = rest[form.len()..].trim_start();
                let at_end = after.is_empty();
                let before = out.trim_end().len();
                out.truncate(before);
                match (out.is_empty(), at_end) {
                    (true, true) => out.push_str(short),
                    (true, false) => {
                        out.push_str(short);
                        out.push(')');
                    }
                    (false, true) => {
                        out.push('(');
                        out.push_str(short);
                    }
                    (false, false) => {
                        out.push('(');
                        out.push_str(short);
                        out.push(')');
                    }
                }
                rest = after;
            }
            None => {
                let mut chars = rest.chars();
                if let Some(c) = chars.next() {
                    out.push(c);
                }
                rest = chars.as_str();
            }
        }
    }
    out
}

fn collapse_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    out
}

/// ASCII characters a Zengin name may contain, as they are.
const ASCII_ALLOWED: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ()-./,";

/// One character (after width normalisation) in Zengin form: one or two characters, or
/// `None` when it has none.
fn half_width(c: char) -> Option<&'static str> {
    if let Some(at) = ASCII_ALLOWED.find(c) {
        return ASCII_ALLOWED.get(at..at + 1);
    }
    let s = match c {
        '・' | '･' | '。' | '｡' => ".",
        '、' | '､' => ",",
        '「' | '｢' => "｢",
        '」' | '｣' => "｣",
        'ー' | 'ｰ' | '‐' | '‑' | '–' | '—' | '−' | '―' => "-",
        '゛' | '\u{3099}' | 'ﾞ' => "ﾞ",
        '゜' | '\u{309A}' | 'ﾟ' => "ﾟ",
        _ => return kana(c),
    };
    Some(s)
}

/// Katakana (full- or half-width) in Zengin form.
fn kana(c: char) -> Option<&'static str> {
    let s = match c {
        'ア' | 'ァ' | 'ｱ' | 'ｧ' => "ｱ",
        'イ' | 'ィ' | 'ヰ' | 'ｲ' | 'ｨ' => "ｲ",
        'ウ' | 'ゥ' | 'ｳ' | 'ｩ' => "ｳ",
        'エ' | 'ェ' | 'ヱ' | 'ｴ' | 'ｪ' => "ｴ",
        'オ' | 'ォ' | 'ヲ' | 'ｵ' | 'ｫ' | 'ｦ' => "ｵ",
        'カ' | 'ヵ' | 'ｶ' => "ｶ",
        'キ' | 'ｷ' => "ｷ",
        'ク' | 'ｸ' => "ｸ",
        'ケ' | 'ヶ' | 'ｹ' => "ｹ",
        'コ' | 'ｺ' => "ｺ",
        'サ' | 'ｻ' => "ｻ",
        'シ' | 'ｼ' => "ｼ",
        'ス' | 'ｽ' => "ｽ",
        'セ' | 'ｾ' => "ｾ",
        'ソ' | 'ｿ' => "ｿ",
        'タ' | 'ﾀ' => "ﾀ",
        'チ' | 'ﾁ' => "ﾁ",
        'ツ' | 'ッ' | 'ﾂ' | 'ｯ' => "ﾂ",
        'テ' | 'ﾃ' => "ﾃ",
        'ト' | 'ﾄ' => "ﾄ",
        'ナ' | 'ﾅ' => "ﾅ",
        'ニ' | 'ﾆ' => "ﾆ",
        'ヌ' | 'ﾇ' => "ﾇ",
        'ネ' | 'ﾈ' => "ﾈ",
        'ノ' | 'ﾉ' => "ﾉ",
        'ハ' | 'ﾊ' => "ﾊ",
        'ヒ' | 'ﾋ' => "ﾋ",
        'フ' | 'ﾌ' => "ﾌ",
        'ヘ' | 'ﾍ' => "ﾍ",
        'ホ' | 'ﾎ' => "ﾎ",
        'マ' | 'ﾏ' => "ﾏ",
        'ミ' | 'ﾐ' => "ﾐ",
        'ム' | 'ﾑ' => "ﾑ",
        'メ' | 'ﾒ' => "ﾒ",
        'モ' | 'ﾓ' => "ﾓ",
        'ヤ' | 'ャ' | 'ﾔ' | 'ｬ' => "ﾔ",
        'ユ' | 'ュ' | 'ﾕ' | 'ｭ' => "ﾕ",
        'ヨ' | 'ョ' | 'ﾖ' | 'ｮ' => "ﾖ",
        'ラ' | 'ﾗ' => "ﾗ",
        'リ' | 'ﾘ' => "ﾘ",
        'ル' | 'ﾙ' => "ﾙ",
        'レ' | 'ﾚ' => "ﾚ",
        'ロ' | 'ﾛ' => "ﾛ",
        'ワ' | 'ヮ' | 'ﾜ' => "ﾜ",
        'ン' | 'ﾝ' => "ﾝ",
        'ガ' => "ｶﾞ",
        'ギ' => "ｷﾞ",
        'グ' => "ｸﾞ",
        'ゲ' => "ｹﾞ",
        'ゴ' => "ｺﾞ",
        'ザ' => "ｻﾞ",
        'ジ' => "ｼﾞ",
        'ズ' => "ｽﾞ",
        'ゼ' => "ｾﾞ",
        'ゾ' => "ｿﾞ",
        'ダ' => "ﾀﾞ",
        'ヂ' => "ﾁﾞ",
        'ヅ' => "ﾂﾞ",
        'デ' => "ﾃﾞ",
        'ド' => "ﾄﾞ",
        'バ' => "ﾊﾞ",
        'ビ' => "ﾋﾞ",
        'ブ' => "ﾌﾞ",
        'ベ' => "ﾍﾞ",
        'ボ' => "ﾎﾞ",
        'パ' => "ﾊﾟ",
        'ピ' => "ﾋﾟ",
        'プ' => "ﾌﾟ",
        'ペ' => "ﾍﾟ",
        'ポ' => "ﾎﾟ",
        'ヴ' => "ｳﾞ",
        'ヷ' => "ﾜﾞ",
        'ヺ' => "ｵﾞ",
        _ => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert_as_the_bank_writes_them() {
        let cases: &[(&str, &str)] = &[
            // Full-width katakana, voiced and semi-voiced sounds as two characters.
            ("ミドリ", "ﾐﾄﾞﾘ"),
            ("ガギグゲゴ", "ｶﾞｷﾞｸﾞｹﾞｺﾞ"),
            ("パピプペポ", "ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),
            ("ヴィ", "ｳﾞｲ"),
            // Hiragana.
            ("やまだ はなこ", "ﾔﾏﾀﾞ ﾊﾅｺ"),
            ("がっこう", "ｶﾞﾂｺｳ"),
            // Small kana become large.
            ("キャッシュ", "ｷﾔﾂｼﾕ"),
            ("ァィゥェォヮヵヶ", "ｱｲｳｴｵﾜｶｹ"),
            ("ｷｬｯｼｭ", "ｷﾔﾂｼﾕ"),
            // The long vowel mark and other dashes become a hyphen.
            ("スーパー", "ｽ-ﾊﾟ-"),
            ("ｽｰﾊﾟｰ", "ｽ-ﾊﾟ-"),
            ("ミツビシユ－エフジエイ", "ﾐﾂﾋﾞｼﾕ-ｴﾌｼﾞｴｲ"),
            // ヲ, ヰ, ヱ have no Zengin form of their own.
            ("ヲヰヱ", "ｵｲｴ"),
            // Full-width letters, digits and spaces; lower case is raised.
            ("ＡＢＣ　１２３", "ABC 123"),
            ("abc", "ABC"),
            ("ＪＡ．ミドリ", "JA.ﾐﾄﾞﾘ"),
            ("ミドリ・マート", "ﾐﾄﾞﾘ.ﾏ-ﾄ"),
            // Company forms by position.
            ("株式会社みどりマート", "ｶ)ﾐﾄﾞﾘﾏ-ﾄ"),
            ("株式会社 みどりマート", "ｶ)ﾐﾄﾞﾘﾏ-ﾄ"),
            ("みどりマート株式会社", "ﾐﾄﾞﾘﾏ-ﾄ(ｶ"),
            ("ミドリ株式会社オオママシテン", "ﾐﾄﾞﾘ(ｶ)ｵｵﾏﾏｼﾃﾝ"),
            ("（株）ミドリ", "ｶ)ﾐﾄﾞﾘ"),
            ("㈱ミドリ", "ｶ)ﾐﾄﾞﾘ"),
            ("有限会社タカツド", "ﾕ)ﾀｶﾂﾄﾞ"),
            ("合同会社ワタラセ", "ﾄﾞ)ﾜﾀﾗｾ"),
            ("医療法人社団ミドリカイ", "ｲ)ﾐﾄﾞﾘｶｲ"),
            ("一般社団法人ミドリ", "ｼﾔ)ﾐﾄﾞﾘ"),
            ("特定非営利活動法人ミドリ", "ﾄｸﾋ)ﾐﾄﾞﾘ"),
            ("カブシキガイシャミドリ", "ｶ)ﾐﾄﾞﾘ"),
            ("ｶ)ﾐﾄﾞﾘ", "ｶ)ﾐﾄﾞﾘ"),
            // Spaces are trimmed and collapsed.
            ("  ミドリ　　ハナコ ", "ﾐﾄﾞﾘ ﾊﾅｺ"),
        ];
        for (input, expected) in cases {
            assert_eq!(to_zengin_kana(input).as_deref(), Ok(*expected), "{input}");
        }
    }

    #[test]
    fn what_cannot_be_converted_is_refused_by_name() {
        let cases: &[(&str, &[char])] = &[
            ("緑花子", &['緑', '花', '子']),
            ("ミドリ商店", &['商', '店']),
            ("ミドリ🙂", &['🙂']),
            ("ミドリ&カンパニー", &['&']),
            ("ヽミドリ", &['ヽ']),
            ("株式会社緑", &['緑']),
        ];
        for (input, bad) in cases {
            assert_eq!(
                to_zengin_kana(input),
                Err(KanaError::Unconvertible(bad.to_vec())),
                "{input}"
            );
        }
        let message = to_zengin_kana("ミドリ商店").unwrap_err().message_ja();
        assert!(message.contains("「商」「店」"), "{message}");
        assert_eq!(to_zengin_kana("　 "), Err(KanaError::Empty));
    }

    #[test]
    fn lengths_are_counted_after_conversion() {
        // ガ is two Zengin characters.
        assert_eq!(ZenginText::parse("ガガ", 4).map(|t| t.len()), Ok(4));
        assert_eq!(
            ZenginText::parse("ガガガ", 4),
            Err(KanaError::TooLong { len: 6, max: 4 })
        );
        let cut = ZenginText::truncated("アガ", 2).unwrap();
        assert_eq!(cut.as_str(), "ｱｶ");
    }

    #[test]
    fn zengin_text_encodes_to_jis_x0201() {
        let text = ZenginText::parse("ｶ)ﾐﾄﾞﾘ 12", 30).unwrap();
        assert_eq!(
            text.to_jis_x0201(),
            vec![0xB6, b')', 0xD0, 0xC4, 0xDE, 0xD8, b' ', b'1', b'2']
        );
        for c in text.as_str().chars() {
            assert!(is_zengin_char(c));
        }
    }

    #[test]
    fn every_output_character_is_in_the_zengin_set() {
        let all: String = ('\u{3000}'..='\u{30FF}')
            .chain('\u{FF01}'..='\u{FF9F}')
            .chain(' '..='~')
            .collect();
        for c in all.chars() {
            if let Ok(text) = to_zengin_kana(&format!("ア{c}ア")) {
                assert!(text.chars().all(is_zengin_char), "{c:?} gave {text}");
            }
        }
    }
}
