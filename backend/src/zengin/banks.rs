//! Japanese bank and branch codes (全銀協 codes), and the parts of a bank account a payout
//! needs, each parsed once into a type that cannot hold an invalid value.
//!
//! The codes come from the zengin-code data set, vendored as `backend/data/zengin/banks.tsv`
//! (see the README beside it for its source, version and licence; `scripts/update-zengin-data`
//! refreshes it). The file is compiled into the binary and indexed on first use.

use super::kana::{KanaError, ZenginText};
use std::collections::HashMap;
use std::sync::LazyLock;

const DATA: &str = include_str!("../../data/zengin/banks.tsv");

/// The longest account holder name a Zengin data record holds (受取人名).
pub const HOLDER_NAME_MAX: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    #[error("a bank code is four digits")]
    BankCodeFormat,
    #[error("no bank has the code {0}")]
    UnknownBank(String),
    #[error("a branch code is three digits")]
    BranchCodeFormat,
    #[error("bank {bank} has no branch {branch}")]
    UnknownBranch { bank: String, branch: String },
    #[error("an account number is one to seven digits")]
    AccountNumberFormat,
    #[error("account holder: {0}")]
    Holder(#[from] KanaError),
}

impl BankError {
    /// The request field at fault, for the API's error message.
    pub fn field(&self) -> &'static str {
        match self {
            BankError::BankCodeFormat | BankError::UnknownBank(_) => "bank_account.bank_code",
            BankError::BranchCodeFormat | BankError::UnknownBranch { .. } => {
                "bank_account.branch_code"
            }
            BankError::AccountNumberFormat => "bank_account.account_number",
            BankError::Holder(_) => "bank_account.holder_name",
        }
    }

    pub fn message_ja(&self) -> String {
        match self {
            BankError::BankCodeFormat => "金融機関コードは4桁の数字で入力してください。".into(),
            BankError::UnknownBank(code) => {
                format!("金融機関コード{code}の金融機関は見つかりません。")
            }
            BankError::BranchCodeFormat => "支店コードは3桁の数字で入力してください。".into(),
            BankError::UnknownBranch { bank, branch } => {
                format!("金融機関コード{bank}に支店コード{branch}の支店はありません。")
            }
            BankError::AccountNumberFormat => "口座番号は7桁までの数字で入力してください。".into(),
            BankError::Holder(e) => e.message_ja(),
        }
    }
}

#[derive(Debug)]
pub struct Bank {
    pub code: String,
    pub name: String,
    pub kana: String,
    branches: HashMap<String, Branch>,
}

#[derive(Debug)]
pub struct Branch {
    pub code: String,
    pub name: String,
    pub kana: String,
}

impl Bank {
    pub fn branch(&self, code: &str) -> Option<&Branch> {
        self.branches.get(code)
    }

    pub fn branch_count(&self) -> usize {
        self.branches.len()
    }
}

/// Every bank and branch in the vendored data set.
pub struct Directory {
    banks: HashMap<String, Bank>,
    /// The data set's own description line (source and version).
    pub source: String,
}

static DIRECTORY: LazyLock<Directory> = LazyLock::new(|| Directory::parse(DATA));

/// The compiled-in directory.
pub fn directory() -> &'static Directory {
    &DIRECTORY
}

impl Directory {
    /// Reads the TSV: `bank<TAB>branch<TAB>name<TAB>kana`, an empty branch for the bank itself,
    /// `#` comments. Malformed lines are skipped (the file is generated and tested as a whole).
    fn parse(text: &str) -> Directory {
        let mut banks: HashMap<String, Bank> = HashMap::new();
        let mut source = String::new();
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# Source: ") {
                source = comment.to_string();
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let (Some(bank), Some(branch), Some(name), Some(kana)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if branch.is_empty() {
                banks.insert(
                    bank.to_string(),
                    Bank {
                        code: bank.to_string(),
                        name: name.to_string(),
                        kana: kana.to_string(),
                        branches: HashMap::new(),
                    },
                );
            } else if let Some(entry) = banks.get_mut(bank) {
                entry.branches.insert(
                    branch.to_string(),
                    Branch {
                        code: branch.to_string(),
                        name: name.to_string(),
                        kana: kana.to_string(),
                    },
                );
            }
        }
        Directory { banks, source }
    }

    pub fn bank(&self, code: &BankCode) -> Option<&Bank> {
        self.banks.get(code.as_str())
    }

    pub fn len(&self) -> usize {
        self.banks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.banks.is_empty()
    }

    /// Every bank, for tests that check the whole data set.
    pub fn banks(&self) -> impl Iterator<Item = &Bank> {
        self.banks.values()
    }
}

fn ascii_digits(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => {
                char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')).unwrap_or(c)
            }
            other => other,
        })
        .collect()
}

fn digits(raw: &str, len: usize) -> Option<String> {
    let d = ascii_digits(raw);
    (d.len() == len && d.chars().all(|c| c.is_ascii_digit())).then_some(d)
}

/// A bank code that exists in the data set: four digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BankCode(String);

impl BankCode {
    pub fn parse(raw: &str) -> Result<BankCode, BankError> {
        let code = digits(raw, 4).ok_or(BankError::BankCodeFormat)?;
        if directory().banks.contains_key(&code) {
            Ok(BankCode(code))
        } else {
            Err(BankError::UnknownBank(code))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch code that exists for its bank: three digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BranchCode(String);

impl BranchCode {
    pub fn parse(bank: &BankCode, raw: &str) -> Result<BranchCode, BankError> {
        let code = digits(raw, 3).ok_or(BankError::BranchCodeFormat)?;
        let known = directory()
            .bank(bank)
            .is_some_and(|b| b.branch(&code).is_some());
        if known {
            Ok(BranchCode(code))
        } else {
            Err(BankError::UnknownBranch {
                bank: bank.as_str().to_string(),
                branch: code,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account number: seven digits, shorter numbers padded with zeros on the left as banks do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountNumber(String);

impl AccountNumber {
    pub fn parse(raw: &str) -> Result<AccountNumber, BankError> {
        let d: String = ascii_digits(raw).chars().filter(|c| *c != '-').collect();
        if d.is_empty() || d.len() > 7 || !d.chars().all(|c| c.is_ascii_digit()) {
            return Err(BankError::AccountNumberFormat);
        }
        Ok(AccountNumber(format!("{d:0>7}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Kinds of deposit account (預金種目) and their Zengin codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepositKind {
    /// 普通預金
    Ordinary,
    /// 当座預金
    Current,
    /// 貯蓄預金
    Savings,
}

impl DepositKind {
    pub fn zengin_code(self) -> char {
        match self {
            DepositKind::Ordinary => '1',
            DepositKind::Current => '2',
            DepositKind::Savings => '4',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DepositKind::Ordinary => "ordinary",
            DepositKind::Current => "current",
            DepositKind::Savings => "savings",
        }
    }

    pub fn parse(s: &str) -> Option<DepositKind> {
        match s {
            "ordinary" => Some(DepositKind::Ordinary),
            "current" => Some(DepositKind::Current),
            "savings" => Some(DepositKind::Savings),
            _ => None,
        }
    }

    pub fn japanese_name(self) -> &'static str {
        match self {
            DepositKind::Ordinary => "普通",
            DepositKind::Current => "当座",
            DepositKind::Savings => "貯蓄",
        }
    }
}

/// A bank account a payout can be sent to: every part checked, the holder name already in
/// Zengin kana.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    pub bank: BankCode,
    pub branch: BranchCode,
    pub kind: DepositKind,
    pub number: AccountNumber,
    pub holder: ZenginText,
}

impl BankAccount {
    pub fn parse(
        bank_code: &str,
        branch_code: &str,
        kind: DepositKind,
        number: &str,
        holder: &str,
    ) -> Result<BankAccount, BankError> {
        let bank = BankCode::parse(bank_code)?;
        let branch = BranchCode::parse(&bank, branch_code)?;
        Ok(BankAccount {
            number: AccountNumber::parse(number)?,
            holder: ZenginText::parse(holder, HOLDER_NAME_MAX)?,
            bank,
            branch,
            kind,
        })
    }

    /// The bank's and branch's names (kanji, kana) from the data set.
    pub fn names(&self) -> (String, String, String, String) {
        let bank = directory().bank(&self.bank);
        let branch = bank.and_then(|b| b.branch(self.branch.as_str()));
        (
            bank.map(|b| b.name.clone()).unwrap_or_default(),
            bank.map(|b| b.kana.clone()).unwrap_or_default(),
            branch.map(|b| b.name.clone()).unwrap_or_default(),
            branch.map(|b| b.kana.clone()).unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zengin::kana::to_zengin_kana;

    #[test]
    fn the_data_set_is_complete_and_converts_to_zengin_kana() {
        let dir = directory();
        assert!(dir.len() > 1000, "{} banks", dir.len());
        assert!(dir.source.contains("zengin-code"), "{}", dir.source);
        let mut branches = 0;
        for bank in dir.banks() {
            assert!(
                to_zengin_kana(&bank.kana).is_ok(),
                "{} {}",
                bank.code,
                bank.kana
            );
            for branch in bank.branches.values() {
                branches += 1;
                assert!(
                    to_zengin_kana(&branch.kana).is_ok(),
                    "{} {} {}",
                    bank.code,
                    branch.code,
                    branch.kana
                );
            }
        }
        assert!(branches > 20_000, "{branches} branches");
    }

    #[test]
    fn good_bank_accounts_parse() {
        let account = BankAccount::parse(
            "0128",
            "141",
            DepositKind::Ordinary,
            "123456",
            "ミドリマート（カ",
        )
        .unwrap();
        assert_eq!(account.number.as_str(), "0123456");
        assert_eq!(account.holder.as_str(), "ﾐﾄﾞﾘﾏ-ﾄ(ｶ");
        let (bank, _, branch, branch_kana) = account.names();
        assert_eq!((bank.as_str(), branch.as_str()), ("群馬", "大間々"));
        assert_eq!(branch_kana, "オオママ");
        // Full-width digits are what many people type.
        assert!(
            BankAccount::parse("０００１", "００１", DepositKind::Current, "１", "ミズホ").is_ok()
        );
    }

    #[test]
    fn bad_bank_data_is_refused_field_by_field() {
        let cases: Vec<(&str, &str, &str, &str, BankError)> = vec![
            ("128", "141", "1", "ミドリ", BankError::BankCodeFormat),
            ("01a8", "141", "1", "ミドリ", BankError::BankCodeFormat),
            (
                "9998",
                "141",
                "1",
                "ミドリ",
                BankError::UnknownBank("9998".into()),
            ),
            ("0128", "14", "1", "ミドリ", BankError::BranchCodeFormat),
            (
                "0128",
                "999",
                "1",
                "ミドリ",
                BankError::UnknownBranch {
                    bank: "0128".into(),
                    branch: "999".into(),
                },
            ),
            (
                "0128",
                "141",
                "12345678",
                "ミドリ",
                BankError::AccountNumberFormat,
            ),
            ("0128", "141", "", "ミドリ", BankError::AccountNumberFormat),
            (
                "0128",
                "141",
                "1",
                "緑商店",
                BankError::Holder(KanaError::Unconvertible(vec!['緑', '商', '店'])),
            ),
            (
                "0128",
                "141",
                "1",
                "ミドリマートミドリマートミドリマートミドリマートミドリマート",
                BankError::Holder(KanaError::TooLong { len: 35, max: 30 }),
            ),
        ];
        for (bank, branch, number, holder, expected) in cases {
            let got = BankAccount::parse(bank, branch, DepositKind::Ordinary, number, holder);
            assert_eq!(
                got,
                Err(expected.clone()),
                "{bank} {branch} {number} {holder}"
            );
            assert!(!expected.message_ja().is_empty());
        }
    }
}
