//! A report as tables with Japanese headers: what the console's HTML, the Excel sheets and the
//! CSV files all print. Cells are built from the report's typed figures, so a suppressed
//! count reaches every output as text, never as its number.

use super::anonymity::{Guarded, ResidentCount, group_digits};
use super::{ParticipationRow, Ratio, Report, ResidentGroupRow, Spending, StoreGroupRow};
use chiiki_core::Yen;
use chiiki_core::time::format_date;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Count(i64),
    Yen(Yen),
    Ratio(Ratio),
    /// A suppressed figure: 「5未満」 or 「秘匿」.
    Hidden(&'static str),
}

impl Cell {
    /// Raw form for CSV: digits without separators, ratios as percentages.
    pub fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Yen(y) => y.get().to_string(),
            Cell::Ratio(r) => r
                .fraction()
                .map(|x| format!("{:.1}%", x * 100.0))
                .unwrap_or_default(),
            Cell::Hidden(s) => (*s).to_string(),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Cell::Count(_) | Cell::Yen(_) | Cell::Ratio(_))
    }
}

/// For people (HTML): `12,345`, `¥6,500`, `87.3%`, `5未満`.
impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Count(n) => f.write_str(&group_digits(*n)),
            Cell::Yen(y) => y.fmt(f),
            Cell::Ratio(r) => r.fmt(f),
            Cell::Hidden(s) => f.write_str(s),
        }
    }
}

impl From<ResidentCount> for Cell {
    fn from(c: ResidentCount) -> Cell {
        match c.shown() {
            Some(n) => Cell::Count(n),
            None => Cell::Hidden(super::BELOW_THRESHOLD),
        }
    }
}

impl From<Yen> for Cell {
    fn from(y: Yen) -> Cell {
        Cell::Yen(y)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Count(n)
    }
}

impl From<Ratio> for Cell {
    fn from(r: Ratio) -> Cell {
        Cell::Ratio(r)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

/// A table of a report. `id` names it in URLs (`?table=daily`); `title` is its sheet name.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub id: &'static str,
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// The column a chart of this table plots (in Excel), if any.
    pub chart_column: Option<usize>,
}

/// Every table, in the order the report prints them.
pub const TABLE_IDS: [&str; 10] = [
    "summary",
    "daily",
    "industry",
    "store_district",
    "size_class",
    "age_band",
    "resident_district",
    "points_event",
    "points_age_band",
    "points_district",
];

const SPENDING_HEADERS: [&str; 6] = [
    "決済件数",
    "決済額（円）",
    "返金件数",
    "返金額（円）",
    "利用額（純額・円）",
    "利用者数",
];

fn spending_cells(s: &Spending, residents: ResidentCount) -> Vec<Cell> {
    vec![
        s.payments.into(),
        s.amount.into(),
        s.refunds.into(),
        s.refunded.into(),
        s.net.into(),
        residents.into(),
    ]
}

fn guarded_cells(s: &Guarded<Spending>, residents: ResidentCount) -> Vec<Cell> {
    match s.shown() {
        Some(s) => spending_cells(&s, residents),
        None => {
            let mut cells = vec![Cell::Hidden(super::SUPPRESSED); 5];
            cells.push(residents.into());
            cells
        }
    }
}

fn store_table(
    id: &'static str,
    title: &'static str,
    first: &'static str,
    rows: &[StoreGroupRow],
) -> Table {
    let mut headers = vec![first];
    headers.extend(SPENDING_HEADERS);
    Table {
        id,
        title,
        headers,
        rows: rows
            .iter()
            .map(|r| {
                let mut cells = vec![Cell::Text(r.label.clone())];
                cells.extend(spending_cells(&r.spending, r.residents));
                cells
            })
            .collect(),
        chart_column: Some(5),
    }
}

fn resident_table(
    id: &'static str,
    title: &'static str,
    first: &'static str,
    rows: &[ResidentGroupRow],
) -> Table {
    let mut headers = vec![first];
    headers.extend(SPENDING_HEADERS);
    Table {
        id,
        title,
        headers,
        rows: rows
            .iter()
            .map(|r| {
                let mut cells = vec![Cell::Text(r.label.clone())];
                cells.extend(guarded_cells(&r.spending, r.residents));
                cells
            })
            .collect(),
        chart_column: Some(5),
    }
}

/// Participation in community-point events: a group of fewer than five residents shows
/// 「5未満」 and 「秘匿」, as the spending of residents' groups does.
fn participation_table(
    id: &'static str,
    title: &'static str,
    first: &'static str,
    rows: &[ParticipationRow],
) -> Table {
    Table {
        id,
        title,
        headers: vec![first, "参加件数", "参加者数", "付与ポイント（円相当）"],
        rows: rows
            .iter()
            .map(|r| match r.participation.shown() {
                Some(p) => vec![
                    Cell::Text(r.label.clone()),
                    p.participations.into(),
                    r.residents.into(),
                    p.points.into(),
                ],
                None => vec![
                    Cell::Text(r.label.clone()),
                    Cell::Hidden(super::SUPPRESSED),
                    r.residents.into(),
                    Cell::Hidden(super::SUPPRESSED),
                ],
            })
            .collect(),
        chart_column: Some(1),
    }
}

fn summary(report: &Report) -> Table {
    let s = &report.summary;
    let monthly = report.period.kind == super::ReportKind::Monthly;
    let mut rows: Vec<(&str, Cell)> = vec![
        ("対象期間", Cell::Text(report.period.label.clone())),
        (
            "期間",
            Cell::Text(format!(
                "{}〜{}",
                format_date(report.period.first_day),
                format_date(report.period.last_day)
            )),
        ),
    ];
    if monthly {
        rows.push(("新規登録者数", s.residents_new.into()));
        rows.push(("アプリ新規導入数（端末）", s.installs_new.into()));
    }
    rows.extend([
        ("累計登録者数", s.residents_total.into()),
        ("累計アプリ導入数（端末）", s.installs_total.into()),
        ("利用者数（決済した住民）", s.active_residents.into()),
        ("加盟店数（承認済み）", s.stores_approved.into()),
        ("利用のあった加盟店数", s.stores_active.into()),
        ("決済件数", s.spending.payments.into()),
        ("決済額（円）", s.spending.amount.into()),
        ("返金件数", s.spending.refunds.into()),
        ("返金額（円）", s.spending.refunded.into()),
        ("利用額（純額・円）", s.spending.net.into()),
        ("販売セット数", s.sets_sold.into()),
        ("累計販売セット数", s.sets_sold_total.into()),
        ("発行額 プレミアム付商品券（円）", s.issued.premium.into()),
        ("発行額 チャージ（円）", s.issued.charged.into()),
        ("発行額 ポイント（円）", s.issued.points.into()),
        ("累計発行額（円）", s.issued_total.total.into()),
        ("累計利用額（純額・円）", s.spent_total.into()),
        ("利用率（累計利用額÷累計発行額）", s.redemption.into()),
        ("プレミアム付商品券の利用率", s.premium_redemption.into()),
        ("中小店舗での利用割合", s.small_store_share.into()),
        (
            "期末未利用残高 プレミアム付商品券（円）",
            s.unspent.premium.into(),
        ),
        ("期末未利用残高 チャージ（円）", s.unspent.charged.into()),
        ("期末未利用残高 ポイント（円）", s.unspent.points.into()),
        ("期末未利用残高 合計（円）", s.unspent.total.into()),
        ("失効額（期間中・円）", s.breakage.into()),
        ("累計失効額（円）", s.breakage_total.into()),
        ("ポイント付与（円相当）", s.points.issued.into()),
        ("ポイント利用（円相当）", s.points.spent.into()),
        ("ポイント失効（円相当）", s.points.lapsed.into()),
    ]);
    Table {
        id: "summary",
        title: "概要",
        headers: vec!["項目", "値"],
        rows: rows
            .into_iter()
            .map(|(k, v)| vec![Cell::Text(k.to_string()), v])
            .collect(),
        chart_column: None,
    }
}

fn daily(report: &Report) -> Table {
    let mut headers = vec!["日付"];
    headers.extend(SPENDING_HEADERS);
    Table {
        id: "daily",
        title: "日別",
        headers,
        rows: report
            .by_day
            .iter()
            .map(|r| {
                let mut cells = vec![Cell::Text(r.date.format("%Y-%m-%d").to_string())];
                cells.extend(spending_cells(&r.spending, r.residents));
                cells
            })
            .collect(),
        chart_column: Some(5),
    }
}

impl Report {
    /// Every table of the report.
    pub fn tables(&self) -> Vec<Table> {
        vec![
            summary(self),
            daily(self),
            store_table("industry", "業種別", "業種", &self.by_industry),
            store_table(
                "store_district",
                "店舗所在地区別",
                "店舗所在地区",
                &self.by_store_district,
            ),
            store_table("size_class", "店舗区分別", "店舗区分", &self.by_size_class),
            resident_table("age_band", "年代別", "年代", &self.by_age_band),
            resident_table(
                "resident_district",
                "居住地区別",
                "居住地区",
                &self.by_resident_district,
            ),
            participation_table(
                "points_event",
                "ポイント事業 参加状況 事業別",
                "事業名",
                &self.points_by_event,
            ),
            participation_table(
                "points_age_band",
                "ポイント事業 参加状況 年代別",
                "年代",
                &self.points_by_age_band,
            ),
            participation_table(
                "points_district",
                "ポイント事業 参加状況 居住地区別",
                "居住地区",
                &self.points_by_district,
            ),
        ]
    }

    /// One table by its id.
    pub fn table(&self, id: &str) -> Option<Table> {
        self.tables().into_iter().find(|t| t.id == id)
    }
}
