//! The Zengin 総合振込 (bulk transfer) file the city's bank reads to pay stores from the fund
//! account: fixed 120-byte records in JIS X 0201, each ended by CRLF — a header (1), one data
//! record per payee (2), a trailer (8) with the count and the sum, and an end record (9).
//! Pure: takes checked values, returns bytes; never writes files.
//!
//! Record layouts (byte widths), per the 全銀協 standard format:
//!
//! | record | fields |
//! | --- | --- |
//! | header 1 | 区分 1 · 種別 "21" 2 · コード区分 "0" 1 · 依頼人コード 10 · 依頼人名 40 · 取組日 MMDD 4 · 仕向銀行 4 · 銀行名 15 · 仕向支店 3 · 支店名 15 · 預金種目 1 · 口座番号 7 · ダミー 17 |
//! | data 2 | 区分 1 · 被仕向銀行 4 · 銀行名 15 · 被仕向支店 3 · 支店名 15 · 手形交換所 4 · 預金種目 1 · 口座番号 7 · 受取人名 30 · 金額 10 · 新規コード 1 · 顧客コード1 10 · 顧客コード2 10 · 振込指定区分 1 · 識別表示 1 · ダミー 7 |
//! | trailer 8 | 区分 1 · 合計件数 6 · 合計金額 12 · ダミー 101 |
//! | end 9 | 区分 1 · ダミー 119 |

use super::banks::{BankAccount, DepositKind, directory};
use super::kana::{KanaError, ZenginText, is_zengin_char, jis_x0201_byte};
use chiiki_core::Yen;
use chrono::{Datelike, NaiveDate};

pub const RECORD_LEN: usize = 120;
/// 振込金額 is ten digits.
pub const MAX_AMOUNT: i64 = 9_999_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferFileError {
    #[error("依頼人コード must be ten digits")]
    ClientCode,
    #[error("{0}: {1}")]
    Name(&'static str, KanaError),
    #[error("payee {0}: the amount must be 1 to 9,999,999,999 yen")]
    Amount(i64),
    #[error("more payees than a file can count")]
    TooMany,
}

/// The fund account that pays (依頼人): the city, as its bank knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remitter {
    /// 依頼人コード: ten digits the bank assigned.
    pub client_code: String,
    /// 依頼人名, at most 40 Zengin characters.
    pub name: ZenginText,
    pub account: BankAccount,
}

impl Remitter {
    pub fn new(
        client_code: &str,
        name: &str,
        account: BankAccount,
    ) -> Result<Remitter, TransferFileError> {
        if client_code.len() != 10 || !client_code.chars().all(|c| c.is_ascii_digit()) {
            return Err(TransferFileError::ClientCode);
        }
        Ok(Remitter {
            client_code: client_code.to_string(),
            name: ZenginText::parse(name, 40)
                .map_err(|e| TransferFileError::Name("依頼人名", e))?,
            account,
        })
    }
}

/// One transfer: who, how much, and two numbers the bank reports back with a returned
/// transfer (we use the store id and the settlement period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payee {
    pub account: BankAccount,
    pub amount: Yen,
    pub customer_code_1: u64,
    pub customer_code_2: u64,
}

/// Builds the file. Bank and branch names come from the data set, abbreviated to 15
/// characters as the format allows.
pub fn transfer_file(
    remitter: &Remitter,
    transfer_date: NaiveDate,
    payees: &[Payee],
) -> Result<Vec<u8>, TransferFileError> {
    if payees.len() > 999_999 {
        return Err(TransferFileError::TooMany);
    }
    let mut out = Vec::with_capacity((payees.len() + 3) * (RECORD_LEN + 2));
    let (bank_name, branch_name) = short_names(&remitter.account)?;
    let mut header = Record::new();
    header.text("1");
    header.text("21");
    header.text("0");
    header.text(&remitter.client_code);
    header.name(&remitter.name, 40);
    header.text(&format!(
        "{:02}{:02}",
        transfer_date.month(),
        transfer_date.day()
    ));
    header.text(remitter.account.bank.as_str());
    header.name(&bank_name, 15);
    header.text(remitter.account.branch.as_str());
    header.name(&branch_name, 15);
    header.text(&remitter.account.kind.zengin_code().to_string());
    header.text(remitter.account.number.as_str());
    header.pad_to_end();
    header.write(&mut out);

    let mut total: i64 = 0;
    for payee in payees {
        let amount = payee.amount.get();
        if !(1..=MAX_AMOUNT).contains(&amount) {
            return Err(TransferFileError::Amount(amount));
        }
        total += amount;
        let (bank_name, branch_name) = short_names(&payee.account)?;
        let mut data = Record::new();
        data.text("2");
        data.text(payee.account.bank.as_str());
        data.name(&bank_name, 15);
        data.text(payee.account.branch.as_str());
        data.name(&branch_name, 15);
        data.spaces(4);
        data.text(&payee.account.kind.zengin_code().to_string());
        data.text(payee.account.number.as_str());
        data.name(&payee.account.holder, 30);
        data.text(&format!("{amount:010}"));
        data.text("0");
        data.text(&format!("{:010}", payee.customer_code_1 % 10_000_000_000));
        data.text(&format!("{:010}", payee.customer_code_2 % 10_000_000_000));
        // 7: telegraphic transfer (テレ振込); no EDI information.
        data.text("7");
        data.spaces(1);
        data.pad_to_end();
        data.write(&mut out);
    }

    let mut trailer = Record::new();
    trailer.text("8");
    trailer.text(&format!("{:06}", payees.len()));
    trailer.text(&format!("{total:012}"));
    trailer.pad_to_end();
    trailer.write(&mut out);

    let mut end = Record::new();
    end.text("9");
    end.pad_to_end();
    end.write(&mut out);
    Ok(out)
}

fn short_names(account: &BankAccount) -> Result<(ZenginText, ZenginText), TransferFileError> {
    let bank = directory().bank(&account.bank);
    let branch = bank.and_then(|b| b.branch(account.branch.as_str()));
    let bank_kana = bank.map(|b| b.kana.as_str()).unwrap_or(" ");
    let branch_kana = branch.map(|b| b.kana.as_str()).unwrap_or(" ");
    let name = |kana: &str, what| {
        ZenginText::truncated(kana, 15).map_err(|e| TransferFileError::Name(what, e))
    };
    Ok((name(bank_kana, "銀行名")?, name(branch_kana, "支店名")?))
}

/// One record being filled left to right.
struct Record(Vec<u8>);

impl Record {
    fn new() -> Record {
        Record(Vec::with_capacity(RECORD_LEN))
    }

    /// ASCII digits and letters, as they are.
    fn text(&mut self, s: &str) {
        self.0.extend(s.bytes());
    }

    /// A name, left-aligned and padded with spaces to `width`.
    fn name(&mut self, text: &ZenginText, width: usize) {
        let bytes = text.to_jis_x0201();
        let n = bytes.len().min(width);
        self.0.extend_from_slice(&bytes[..n]);
        self.spaces(width - n);
    }

    fn spaces(&mut self, n: usize) {
        self.0.extend(std::iter::repeat_n(b' ', n));
    }

    fn pad_to_end(&mut self) {
        let n = RECORD_LEN.saturating_sub(self.0.len());
        self.spaces(n);
    }

    fn write(mut self, out: &mut Vec<u8>) {
        // Every field is fixed-width, so a record can only be too long through a bug above.
        self.0.truncate(RECORD_LEN);
        out.extend_from_slice(&self.0);
        out.extend_from_slice(b"\r\n");
    }
}

/// What a transfer file says, read back: for tests and for checking a file before upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub transfer_date_mmdd: String,
    pub count: usize,
    pub total: i64,
    /// (bank, branch, account kind, account number, holder, amount) per data record.
    pub payees: Vec<(String, String, char, String, String, i64)>,
}

/// Reads a transfer file strictly: record lengths, CRLF, record order, the character set of
/// every byte, and that the trailer's count and sum match the data records.
pub fn read_transfer_file(bytes: &[u8]) -> Result<FileSummary, String> {
    let mut records = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < RECORD_LEN + 2 {
            return Err(format!("record {} is short", records.len() + 1));
        }
        let (record, tail) = rest.split_at(RECORD_LEN);
        if !tail.starts_with(b"\r\n") {
            return Err(format!("record {} does not end in CRLF", records.len() + 1));
        }
        for (at, &b) in record.iter().enumerate() {
            let ok = matches!(b, b'0'..=b'9' | b'A'..=b'Z' | b' ' | b'(' | b')' | b'-' | b'.' | b'/' | b',')
                || (0xA2..=0xA3).contains(&b)
                || (0xB1..=0xDF).contains(&b);
            if !ok {
                return Err(format!(
                    "record {} byte {} is 0x{b:02X}, outside the Zengin character set",
                    records.len() + 1,
                    at + 1
                ));
            }
        }
        records.push(record);
        rest = &tail[2..];
    }
    let kinds: Vec<u8> = records.iter().map(|r| r[0]).collect();
    let data_count = kinds.iter().filter(|&&k| k == b'2').count();
    let mut expected = vec![b'1'];
    expected.extend(std::iter::repeat_n(b'2', data_count));
    expected.extend([b'8', b'9']);
    if kinds != expected {
        return Err(format!(
            "records are {:?}, expected header, data, trailer, end",
            String::from_utf8_lossy(&kinds)
        ));
    }
    let field = |r: &[u8], from: usize, len: usize| {
        r.get(from..from + len)
            .map(|b| b.iter().map(|&x| decode_byte(x)).collect::<String>())
            .unwrap_or_default()
    };
    let number = |s: &str| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("{s:?} is not a number"))
    };
    let header = records[0];
    if &header[1..4] != b"210" {
        return Err("header is not a 総合振込 (21) in JIS (0)".into());
    }
    let mut payees = Vec::new();
    let mut total = 0;
    for r in &records[1..=data_count] {
        let amount = number(&field(r, 80, 10))?;
        total += amount;
        payees.push((
            field(r, 1, 4),
            field(r, 20, 3),
            char::from(r[42]),
            field(r, 43, 7),
            field(r, 50, 30).trim_end().to_string(),
            amount,
        ));
    }
    let trailer = records[data_count + 1];
    let count = number(&field(trailer, 1, 6))?;
    let sum = number(&field(trailer, 7, 12))?;
    if usize::try_from(count).ok() != Some(data_count) || sum != total {
        return Err(format!(
            "trailer says {count} transfers of {sum}, the data records are {data_count} of {total}"
        ));
    }
    Ok(FileSummary {
        transfer_date_mmdd: field(header, 54, 4),
        count: data_count,
        total,
        payees,
    })
}

fn decode_byte(b: u8) -> char {
    match b {
        0xA1..=0xDF => char::from_u32(u32::from(b) + 0xFEC0).unwrap_or('?'),
        _ => char::from(b),
    }
}

/// Whether every character of a name is one a record may carry (used by tests and checks).
pub fn is_zengin_name(s: &str) -> bool {
    s.chars()
        .all(|c| is_zengin_char(c) && jis_x0201_byte(c).is_some())
}

/// The account kind from its Zengin code.
pub fn account_kind(code: char) -> Option<DepositKind> {
    match code {
        '1' => Some(DepositKind::Ordinary),
        '2' => Some(DepositKind::Current),
        '4' => Some(DepositKind::Savings),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(bank: &str, branch: &str, number: &str, holder: &str) -> BankAccount {
        BankAccount::parse(bank, branch, DepositKind::Ordinary, number, holder).unwrap()
    }

    fn remitter() -> Remitter {
        Remitter::new(
            "1234567890",
            "ミドリシ カイケイカンリシャ",
            account("0128", "141", "7654321", "ミドリシ"),
        )
        .unwrap()
    }

    fn payees() -> Vec<Payee> {
        vec![
            Payee {
                account: account("0128", "146", "123", "株式会社みどりマート"),
                amount: Yen(123_456),
                customer_code_1: 1,
                customer_code_2: 2_024_110,
            },
            Payee {
                account: account("0001", "001", "1234567", "カフェ　タカツド"),
                amount: Yen(9_800),
                customer_code_1: 2,
                customer_code_2: 2_024_110,
            },
        ]
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 12, 16).unwrap()
    }

    #[test]
    fn records_follow_the_zengin_layout() {
        let bytes = transfer_file(&remitter(), date(), &payees()).unwrap();
        assert_eq!(bytes.len(), 5 * 122);
        let records: Vec<&[u8]> = bytes
            .split(|&b| b == b'\n')
            .filter(|r| !r.is_empty())
            .collect();
        assert_eq!(records.len(), 5);
        for r in &records {
            assert_eq!(r.len(), 121, "120 bytes and CR");
            assert_eq!(r[120], b'\r');
        }
        let header = records[0];
        assert_eq!(&header[..14], b"12101234567890");
        // 依頼人名 ﾐﾄﾞﾘｼ ｶｲｹｲｶﾝﾘｼﾔ, JIS X 0201.
        assert_eq!(&header[14..19], &[0xD0, 0xC4, 0xDE, 0xD8, 0xBC]);
        assert_eq!(&header[54..58], b"1216");
        assert_eq!(&header[58..62], b"0128");
        assert_eq!(&header[62..66], &[0xB8, 0xDE, 0xDD, 0xCF], "ｸﾞﾝﾏ");
        assert_eq!(&header[77..80], b"141");
        assert_eq!(&header[95..103], b"17654321");
        let data = records[1];
        assert_eq!(data[0], b'2');
        assert_eq!(&data[1..5], b"0128");
        assert_eq!(&data[20..23], b"146");
        assert_eq!(&data[38..42], b"    ");
        assert_eq!(&data[42..50], b"10000123");
        // ｶ)ﾐﾄﾞﾘﾏ-ﾄ
        assert_eq!(
            &data[50..59],
            &[0xB6, b')', 0xD0, 0xC4, 0xDE, 0xD8, 0xCF, b'-', 0xC4]
        );
        assert_eq!(&data[80..90], b"0000123456");
        assert_eq!(&data[90..111], b"000000000010002024110");
        assert_eq!(data[111], b'7');
        let trailer = records[3];
        assert_eq!(&trailer[..19], b"8000002000000133256");
        assert!(trailer[19..120].iter().all(|&b| b == b' '));
        assert_eq!(records[4][0], b'9');
        assert!(records[4][1..120].iter().all(|&b| b == b' '));
    }

    #[test]
    fn a_written_file_reads_back_with_matching_trailer() {
        let bytes = transfer_file(&remitter(), date(), &payees()).unwrap();
        let summary = read_transfer_file(&bytes).unwrap();
        assert_eq!(summary.count, 2);
        assert_eq!(summary.total, 133_256);
        assert_eq!(summary.transfer_date_mmdd, "1216");
        assert_eq!(summary.payees[1].4, "ｶﾌｴ ﾀｶﾂﾄﾞ");
        assert!(summary.payees.iter().all(|p| is_zengin_name(&p.4)));
    }

    #[test]
    fn damaged_files_are_caught_by_the_reader() {
        let good = transfer_file(&remitter(), date(), &payees()).unwrap();
        let mut wrong_sum = good.clone();
        wrong_sum[3 * 122 + 18] = b'7';
        assert!(
            read_transfer_file(&wrong_sum)
                .unwrap_err()
                .contains("trailer")
        );
        let mut lf_only = good.clone();
        lf_only[120] = b' ';
        assert!(read_transfer_file(&lf_only).is_err());
        let mut lower_case = good.clone();
        lower_case[122 + 50] = b'a';
        assert!(
            read_transfer_file(&lower_case)
                .unwrap_err()
                .contains("character set")
        );
        assert!(read_transfer_file(&good[..good.len() - 122]).is_err());
    }

    #[test]
    fn impossible_amounts_and_codes_are_refused() {
        let mut zero = payees();
        zero[0].amount = Yen(0);
        assert_eq!(
            transfer_file(&remitter(), date(), &zero),
            Err(TransferFileError::Amount(0))
        );
        let mut huge = payees();
        huge[0].amount = Yen(MAX_AMOUNT + 1);
        assert!(transfer_file(&remitter(), date(), &huge).is_err());
        assert_eq!(
            Remitter::new("12345", "ミドリシ", account("0128", "141", "1", "ミドリシ")),
            Err(TransferFileError::ClientCode)
        );
    }
}
