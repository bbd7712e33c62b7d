//! Settlement statements: CSV for Excel (UTF-8 with a byte order mark, CRLF, one row per store
//! and cycle) and a one-page PDF per store in Japanese. Pure: closed lines in, bytes out.

use crate::pdf::{self, Faces, MM, PdfError};
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{BankAccountView, PayoutStatus, SettlementLine, SettlementSummary};
use chiiki_core::time::{format_date, format_jst_datetime};
use krilla::Document;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;

/// Excel opens UTF-8 CSV as Shift JIS unless the file starts with a byte order mark.
const BOM: &str = "\u{FEFF}";

const HEADER: [&str; 19] = [
    "対象期間",
    "期間開始日",
    "期間終了日",
    "店舗番号",
    "店舗名",
    "支払件数",
    "支払金額",
    "返金件数",
    "返金金額",
    "差引金額",
    "うちプレミアム分",
    "うちチャージ分",
    "うちポイント分",
    "前回からの繰越",
    "今回のお支払い額",
    "手数料（市が負担）",
    "振込予定日",
    "状態",
    "振込先",
];

pub fn status_ja(status: PayoutStatus) -> &'static str {
    match status {
        PayoutStatus::Scheduled => "振込予定",
        PayoutStatus::Paid => "振込済み",
        PayoutStatus::Returned => "組戻し（次回に繰越）",
        PayoutStatus::Carried => "次回に繰越",
    }
}

fn account_text(account: Option<&BankAccountView>) -> String {
    match account {
        Some(a) => format!(
            "{} {} {} {} {}",
            a.bank_name,
            a.branch_name,
            match a.account_type {
                chiiki_core::protocol::AccountType::Ordinary => "普通",
                chiiki_core::protocol::AccountType::Current => "当座",
                chiiki_core::protocol::AccountType::Savings => "貯蓄",
            },
            a.account_number,
            a.holder_name
        ),
        None => "未登録".into(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Rows of (cycle, store line, account), for one store or a whole cycle.
pub fn csv(
    rows: &[(
        &SettlementSummary,
        &SettlementLine,
        Option<&BankAccountView>,
    )],
) -> Vec<u8> {
    let mut out = String::from(BOM);
    out.push_str(&HEADER.join(","));
    out.push_str("\r\n");
    for (summary, line, account) in rows {
        let fields = [
            summary.period.clone(),
            summary.first_day.to_string(),
            summary.last_day.to_string(),
            line.store_id.to_string(),
            line.store_name.clone(),
            line.payment_count.to_string(),
            line.gross.get().to_string(),
            line.refund_count.to_string(),
            line.refunds.get().to_string(),
            line.net.get().to_string(),
            line.premium.get().to_string(),
            line.charged.get().to_string(),
            line.points.get().to_string(),
            line.carried_in.get().to_string(),
            line.amount_due.get().to_string(),
            line.fee.get().to_string(),
            summary.payout_date.to_string(),
            status_ja(line.status).to_string(),
            account_text(*account),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// One store's statement for one cycle, A4 portrait.
pub fn pdf(
    faces: &Faces,
    programme: &Programme,
    summary: &SettlementSummary,
    line: &SettlementLine,
    account: Option<&BankAccountView>,
) -> Result<Vec<u8>, PdfError> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!("精算明細書 {} {}", summary.period, line.store_name))
            .language("ja".into())
            .creator("Chiiki".into()),
    );
    let (width, height) = (210.0 * MM, 297.0 * MM);
    let settings = PageSettings::from_wh(width, height)
        .ok_or_else(|| PdfError::Write("bad page size".into()))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let s = &mut surface;
    let left = 56.0;
    let right = width - 56.0;
    pdf::text(s, &faces.bold, 22.0, left, 80.0, "精算明細書");
    pdf::right_aligned(
        s,
        &faces.regular,
        10.0,
        right,
        80.0,
        &programme.display_name,
    );
    pdf::text(
        s,
        &faces.bold,
        15.0,
        left,
        120.0,
        &format!("{}　様（店舗番号 {}）", line.store_name, line.store_id),
    );
    let period = format!(
        "対象期間　{} 〜 {}",
        format_date(summary.first_day),
        format_date(summary.last_day)
    );
    pdf::text(s, &faces.regular, 11.0, left, 145.0, &period);

    let rows: Vec<(String, Yen)> = vec![
        (format!("お支払い（{}件）", line.payment_count), line.gross),
        (
            format!("返金（{}件）", line.refund_count),
            Yen(-line.refunds.get()),
        ),
        ("差引金額".into(), line.net),
        ("　うちプレミアム分".into(), line.premium),
        ("　うちチャージ分".into(), line.charged),
        ("　うちポイント分".into(), line.points),
        ("前回からの繰越".into(), line.carried_in),
    ];
    let mut y = 190.0;
    for (label, amount) in &rows {
        pdf::text(s, &faces.regular, 12.0, left, y, label);
        pdf::right_aligned(s, &faces.regular, 12.0, right, y, &amount.to_string());
        pdf::rects(s, (200, 200, 200), &[(left, y + 7.0, right - left, 0.6)]);
        y += 26.0;
    }
    y += 10.0;
    pdf::rects(s, (22, 96, 46), &[(left, y - 18.0, right - left, 1.5)]);
    pdf::text(s, &faces.bold, 15.0, left, y + 4.0, "今回のお支払い額");
    let due = if line.status == PayoutStatus::Carried {
        Yen(0)
    } else {
        line.amount_due
    };
    pdf::right_aligned(s, &faces.bold, 18.0, right, y + 4.0, &due.to_string());
    y += 40.0;
    let details = [
        ("振込予定日", format_date(summary.payout_date)),
        ("状態", status_ja(line.status).to_string()),
        ("振込先", account_text(account)),
    ];
    for (label, value) in details {
        pdf::text(s, &faces.regular, 11.0, left, y, label);
        let size = pdf::fitting_size(&faces.regular, &value, 11.0, right - left - 90.0);
        pdf::text(s, &faces.regular, size, left + 90.0, y, &value);
        y += 22.0;
    }
    if let Some(reason) = &line.hold_reason {
        pdf::text(s, &faces.regular, 10.0, left, y, reason);
        y += 20.0;
    }
    y += 10.0;
    let fee_note = format!(
        "決済手数料 {} は{}が負担します。お店のお支払い額から差し引くことはありません。",
        line.fee, programme.city.name
    );
    let size = pdf::fitting_size(&faces.regular, &fee_note, 10.0, right - left);
    pdf::text(s, &faces.regular, size, left, y, &fee_note);
    let closed = format!("締め日時 {}", format_jst_datetime(summary.closed_at));
    pdf::text(s, &faces.regular, 9.0, left, height - 50.0, &closed);
    pdf::right_aligned(
        s,
        &faces.regular,
        9.0,
        right,
        height - 50.0,
        &format!("{}　{}", programme.city.name, programme.name),
    );
    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn summary() -> SettlementSummary {
        SettlementSummary {
            period: "2024-11".into(),
            first_day: NaiveDate::from_ymd_opt(2024, 11, 1).unwrap(),
            last_day: NaiveDate::from_ymd_opt(2024, 11, 30).unwrap(),
            payout_date: NaiveDate::from_ymd_opt(2024, 12, 16).unwrap(),
            closed_at: Utc.with_ymd_and_hms(2024, 12, 2, 0, 0, 0).unwrap(),
            transfer_count: 1,
            transfer_total: Yen(1800),
            fee_total: Yen(18),
        }
    }

    fn line() -> SettlementLine {
        SettlementLine {
            store_id: 7,
            store_name: "みどり商店, 大間々".into(),
            payment_count: 2,
            gross: Yen(2000),
            refund_count: 1,
            refunds: Yen(200),
            net: Yen(1800),
            premium: Yen(1000),
            charged: Yen(800),
            points: Yen(0),
            carried_in: Yen(0),
            amount_due: Yen(1800),
            fee: Yen(18),
            status: PayoutStatus::Scheduled,
            hold_reason: None,
            paid_at: None,
            returned_at: None,
            return_reason: None,
        }
    }

    #[test]
    fn csv_opens_in_excel_as_utf8_with_japanese_headers() {
        let bytes = csv(&[(&summary(), &line(), None)]);
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_start_matches(BOM).split("\r\n").collect();
        assert!(lines[0].starts_with("対象期間,期間開始日"));
        assert_eq!(
            lines[1],
            "2024-11,2024-11-01,2024-11-30,7,\"みどり商店, 大間々\",2,2000,1,200,1800,1000,800,0,0,1800,18,2024-12-16,振込予定,未登録"
        );
        assert_eq!(lines[2], "", "every row ends in CRLF");
    }
}
