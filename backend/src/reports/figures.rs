//! The figures, read from the ledger: value flows are transfers grouped by the kinds of the
//! accounts they move between; spending is the payment and refund transfers grouped by
//! resident, store and JST day. Groups of residents and stores are formed here, in Rust,
//! because age bands need the sealed birth dates.

use super::anonymity::ResidentCount;
use super::{
    AGE_BANDS, Balances, DayRow, Issued, Participation, ParticipationRow, Period, PointsFigures,
    Ratio, Report, ReportResult, ResidentGroupRow, Spending, StoreGroupRow, Summary, age_band,
};
use crate::clock::to_millis;
use crate::db::{Db, sum};
use crate::programme::Programme;
use chiiki_core::Yen;
use chiiki_core::protocol::{Industry, SizeClass};
use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::{AnyPool, AssertSqlSafe};
use std::collections::{BTreeMap, HashMap, HashSet};

const DAY_MILLIS: i64 = 86_400_000;
const JST_OFFSET_MILLIS: i64 = 9 * 3_600_000;
const UNKNOWN: &str = "不明";

/// Transfers between two kinds of account (and the issue of premium-related accounts).
struct Flow {
    from: String,
    from_issue: String,
    to: String,
    to_issue: String,
    amount: i64,
}

async fn flows(pool: &AnyPool, start: i64, end: i64) -> ReportResult<Vec<Flow>> {
    let rows = sqlx::query_as::<_, (String, String, String, String, i64)>(AssertSqlSafe(format!(
        "SELECT d.kind, d.issue, c.kind, c.issue, {}
         FROM transfers t
         JOIN accounts d ON d.id = t.debit_account
         JOIN accounts c ON c.id = t.credit_account
         WHERE t.created_at >= $1 AND t.created_at < $2
         GROUP BY d.kind, d.issue, c.kind, c.issue",
        sum("t.amount")
    )))
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(from, from_issue, to, to_issue, amount)| Flow {
            from,
            from_issue,
            to,
            to_issue,
            amount,
        })
        .collect())
}

/// Premium-related accounts count only for this programme's issue (points are the city's,
/// whatever the programme; their expired account is `ledger::POINTS_EXPIRED_ISSUE`).
fn of_programme(kind: &str, issue: &str, programme: &str) -> bool {
    match kind {
        "resident_premium" | "issuer_premium" => issue == programme,
        "expired" => issue == programme || issue == crate::ledger::POINTS_EXPIRED_ISSUE,
        _ => true,
    }
}

struct ValueFigures {
    issued: Issued,
    /// Net spent at stores, all purses / premium purses only.
    spent: Yen,
    spent_premium: Yen,
    breakage: Yen,
    points: PointsFigures,
    unspent: Balances,
}

fn value_figures(flows: &[Flow], programme: &str) -> ValueFigures {
    let mut v = ValueFigures {
        issued: Issued::default(),
        spent: Yen::ZERO,
        spent_premium: Yen::ZERO,
        breakage: Yen::ZERO,
        points: PointsFigures::default(),
        unspent: Balances::default(),
    };
    let add = |y: &mut Yen, n: i64| *y = Yen(y.get() + n);
    for f in flows {
        if !of_programme(&f.from, &f.from_issue, programme)
            || !of_programme(&f.to, &f.to_issue, programme)
        {
            continue;
        }
        let n = f.amount;
        match (f.from.as_str(), f.to.as_str()) {
            ("fund" | "issuer_premium", "resident_premium") => add(&mut v.issued.premium, n),
            ("fund", "resident_charged") => add(&mut v.issued.charged, n),
            ("issuer_points", "resident_points") => add(&mut v.issued.points, n),
            ("resident_premium", "expired") => add(&mut v.breakage, n),
            ("resident_points", "expired" | "issuer_points") => add(&mut v.points.lapsed, n),
            _ => {}
        }
        let resident_side = |kind: &str| {
            matches!(
                kind,
                "resident_premium" | "resident_charged" | "resident_points"
            )
        };
        if resident_side(&f.from) && f.to == "store" {
            add(&mut v.spent, n);
            match f.from.as_str() {
                "resident_premium" => add(&mut v.spent_premium, n),
                "resident_points" => add(&mut v.points.spent, n),
                _ => {}
            }
        }
        if f.from == "store" && resident_side(&f.to) {
            add(&mut v.spent, -n);
            match f.to.as_str() {
                "resident_premium" => add(&mut v.spent_premium, -n),
                "resident_points" => add(&mut v.points.spent, -n),
                _ => {}
            }
        }
        // Purse balances: what came in minus what went out, whatever the operation.
        let purse = |b: &mut Balances, kind: &str, n: i64| match kind {
            "resident_premium" => add(&mut b.premium, n),
            "resident_charged" => add(&mut b.charged, n),
            "resident_points" => add(&mut b.points, n),
            _ => {}
        };
        purse(&mut v.unspent, &f.to, n);
        purse(&mut v.unspent, &f.from, -n);
    }
    v.points.issued = v.issued.points;
    v.issued.total = Yen(v.issued.premium.get() + v.issued.charged.get() + v.issued.points.get());
    v.unspent.total =
        Yen(v.unspent.premium.get() + v.unspent.charged.get() + v.unspent.points.get());
    v
}

/// Payments (or refunds) of one resident at one store on one JST day.
struct SpendingCell {
    refund: bool,
    resident: i64,
    store: i64,
    day: NaiveDate,
    operations: i64,
    amount: i64,
}

async fn spending_cells(pool: &AnyPool, start: i64, end: i64) -> ReportResult<Vec<SpendingCell>> {
    // Integer division gives the JST day number on both engines.
    let rows = sqlx::query_as::<_, (String, Option<i64>, Option<i64>, i64, i64, i64)>(
        AssertSqlSafe(format!(
            "SELECT o.kind, o.resident_id, o.store_id,
                    (t.created_at + {JST_OFFSET_MILLIS}) / {DAY_MILLIS} AS jst_day,
                    COUNT(DISTINCT t.operation_id), {}
             FROM transfers t JOIN operations o ON o.id = t.operation_id
             WHERE o.kind IN ('payment', 'refund')
               AND t.created_at >= $1 AND t.created_at < $2
             GROUP BY o.kind, o.resident_id, o.store_id, jst_day",
            sum("t.amount")
        )),
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let epoch = DateTime::<Utc>::UNIX_EPOCH.date_naive();
    Ok(rows
        .into_iter()
        .filter_map(|(kind, resident, store, day, operations, amount)| {
            Some(SpendingCell {
                refund: kind == "refund",
                resident: resident?,
                store: store?,
                day: epoch.checked_add_days(Days::new(u64::try_from(day).ok()?))?,
                operations,
                amount,
            })
        })
        .collect())
}

/// A group that cells of kind `C` are added to.
trait Tally<C>: Default {
    fn add(&mut self, cell: &C);
}

/// A group's spending and the residents in it.
#[derive(Default)]
struct Group {
    spending: Spending,
    residents: HashSet<i64>,
}

impl Tally<SpendingCell> for Group {
    fn add(&mut self, cell: &SpendingCell) {
        if cell.refund {
            self.spending.add_refund(cell.operations, cell.amount);
        } else {
            self.spending.add_payment(cell.operations, cell.amount);
            self.residents.insert(cell.resident);
        }
    }
}

impl Group {
    fn residents(&self) -> ResidentCount {
        ResidentCount::new(self.residents.len() as i64)
    }
}

/// Groups cells by `key`, keeping the order of `labels` (every label gets a row) and adding
/// any other key met after them.
fn group_by<C, G: Tally<C>>(
    cells: &[C],
    labels: impl IntoIterator<Item = String>,
    key: impl Fn(&C) -> String,
) -> Vec<(String, G)> {
    let mut order: Vec<String> = labels.into_iter().collect();
    let mut groups: HashMap<String, G> = HashMap::new();
    for cell in cells {
        let k = key(cell);
        if !order.contains(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().add(cell);
    }
    order
        .into_iter()
        .map(|label| {
            let g = groups.remove(&label).unwrap_or_default();
            (label, g)
        })
        .collect()
}

/// Claims of one resident at one event in the period.
struct ClaimCell {
    event: i64,
    event_name: String,
    resident: i64,
    claims: i64,
    points: i64,
}

async fn claim_cells(pool: &AnyPool, start: i64, end: i64) -> ReportResult<Vec<ClaimCell>> {
    let rows = sqlx::query_as::<_, (i64, String, i64, i64, i64)>(AssertSqlSafe(format!(
        "SELECT c.event_id, e.name, c.resident_id, COUNT(*), {}
         FROM points_claims c JOIN points_events e ON e.id = c.event_id
         WHERE c.created_at >= $1 AND c.created_at < $2
         GROUP BY c.event_id, e.name, c.resident_id",
        sum("c.points")
    )))
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(event, event_name, resident, claims, points)| ClaimCell {
            event,
            event_name,
            resident,
            claims,
            points,
        })
        .collect())
}

/// A group's participation and the residents who took part.
#[derive(Default)]
struct ClaimGroup {
    participation: Participation,
    residents: HashSet<i64>,
}

impl Tally<ClaimCell> for ClaimGroup {
    fn add(&mut self, cell: &ClaimCell) {
        self.participation.participations += cell.claims;
        self.participation.points = Yen(self.participation.points.get() + cell.points);
        self.residents.insert(cell.resident);
    }
}

fn participation_rows(groups: Vec<(String, ClaimGroup)>) -> Vec<ParticipationRow> {
    groups
        .into_iter()
        .map(|(label, g)| {
            let residents = ResidentCount::new(g.residents.len() as i64);
            ParticipationRow {
                label,
                residents,
                participation: residents.guard(g.participation),
            }
        })
        .collect()
}

/// One row per event with claims, in the order the events were created (two events of the
/// same name stay two rows).
fn by_event(cells: &[ClaimCell]) -> Vec<ParticipationRow> {
    let mut events: BTreeMap<i64, (String, ClaimGroup)> = BTreeMap::new();
    for c in cells {
        events
            .entry(c.event)
            .or_insert_with(|| (c.event_name.clone(), ClaimGroup::default()))
            .1
            .add(c);
    }
    participation_rows(events.into_values().collect())
}

struct StoreInfo {
    industry: String,
    district: String,
    size: String,
}

async fn stores(pool: &AnyPool) -> ReportResult<HashMap<i64, StoreInfo>> {
    let rows = sqlx::query_as::<_, (i64, String, String, Option<String>)>(
        "SELECT id, industry, district, size_class FROM stores",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, industry, district, size)| {
            let industry = Industry::from_code(&industry)
                .map(|i| i.japanese_name().to_string())
                .unwrap_or_else(|| UNKNOWN.to_string());
            let size = size
                .as_deref()
                .and_then(SizeClass::parse)
                .map(|s| s.japanese_name().to_string())
                .unwrap_or_else(|| "区分なし".to_string());
            (
                id,
                StoreInfo {
                    industry,
                    district,
                    size,
                },
            )
        })
        .collect())
}

struct ResidentInfo {
    band: Option<usize>,
    district: String,
}

/// Unseals the birth dates of the residents in `ids` (only those: the rest stay sealed).
async fn residents(
    db: &Db,
    ids: &HashSet<i64>,
    on: NaiveDate,
) -> ReportResult<HashMap<i64, ResidentInfo>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, birth_date, district FROM residents",
    )
    .fetch_all(db.reader())
    .await?;
    let vault = db.vault();
    let mut out = HashMap::with_capacity(ids.len());
    for (id, sealed, district) in rows {
        if !ids.contains(&id) {
            continue;
        }
        let birth = vault.open("residents.birth_date", &sealed)?;
        let band = NaiveDate::parse_from_str(&birth, "%Y-%m-%d")
            .ok()
            .map(|b| age_band(b, on));
        out.insert(id, ResidentInfo { band, district });
    }
    Ok(out)
}

async fn count(pool: &AnyPool, sql: &'static str, start: i64, end: i64) -> ReportResult<i64> {
    Ok(sqlx::query_scalar::<_, i64>(sql)
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await?)
}

const RESIDENTS_SQL: &str =
    "SELECT COUNT(*) FROM residents WHERE created_at >= $1 AND created_at < $2";
const INSTALLS_SQL: &str = "SELECT COUNT(*) FROM devices d
     JOIN credentials c ON c.id = d.credential_id
     WHERE c.principal_kind = 'resident' AND d.created_at >= $1 AND d.created_at < $2";
const STORES_SQL: &str = "SELECT COUNT(*) FROM stores
     WHERE status = 'approved' AND created_at >= $1 AND created_at < $2";

fn ratio(numerator: Yen, denominator: Yen) -> Ratio {
    Ratio {
        numerator,
        denominator,
    }
}

pub(super) async fn compute(
    db: &Db,
    programme: &Programme,
    period: Period,
) -> ReportResult<Report> {
    let pool = db.reader();
    let (start, end) = (to_millis(period.start()), to_millis(period.end()));
    let in_period = value_figures(&flows(pool, start, end).await?, &programme.id);
    let to_end = value_figures(&flows(pool, 0, end).await?, &programme.id);
    let cells = spending_cells(pool, start, end).await?;
    let store_info = stores(pool).await?;
    let payers: HashSet<i64> = cells
        .iter()
        .filter(|c| !c.refund)
        .map(|c| c.resident)
        .collect();
    let claims = claim_cells(pool, start, end).await?;
    let resident_ids: HashSet<i64> = cells
        .iter()
        .map(|c| c.resident)
        .chain(claims.iter().map(|c| c.resident))
        .collect();
    let resident_info = residents(db, &resident_ids, period.last_day).await?;

    let mut total = Group::default();
    let mut stores_active = HashSet::new();
    for c in &cells {
        total.add(c);
        if !c.refund {
            stores_active.insert(c.store);
        }
    }

    // Every day of the period (the final report: of the usage window) plus any day with a
    // payment or refund outside it.
    let (from, to) = match period.kind {
        super::ReportKind::Monthly => (period.first_day, period.last_day),
        super::ReportKind::Final => (programme.usage.first_day, programme.usage.last_day),
    };
    let mut days: BTreeMap<NaiveDate, Group> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| (d, Group::default()))
        .collect();
    for c in &cells {
        days.entry(c.day).or_default().add(c);
    }
    let by_day = days
        .into_iter()
        .map(|(date, g)| DayRow {
            date,
            spending: g.spending,
            residents: g.residents(),
        })
        .collect();

    let store_attr = |c: &SpendingCell, f: fn(&StoreInfo) -> &String| {
        store_info
            .get(&c.store)
            .map(|s| f(s).clone())
            .unwrap_or_else(|| UNKNOWN.to_string())
    };
    let store_rows = |groups: Vec<(String, Group)>| -> Vec<StoreGroupRow> {
        groups
            .into_iter()
            .map(|(label, g)| StoreGroupRow {
                label,
                spending: g.spending,
                residents: g.residents(),
            })
            .collect()
    };
    let districts: Vec<String> = programme
        .city
        .districts
        .iter()
        .map(|d| d.name.clone())
        .collect();
    let by_industry = store_rows(group_by(
        &cells,
        Industry::ALL.iter().map(|i| i.japanese_name().to_string()),
        |c| store_attr(c, |s| &s.industry),
    ));
    let by_store_district = store_rows(group_by(&cells, districts.clone(), |c| {
        store_attr(c, |s| &s.district)
    }));
    let by_size_class = store_rows(group_by(
        &cells,
        [SizeClass::Small, SizeClass::Large].map(|s| s.japanese_name().to_string()),
        |c| store_attr(c, |s| &s.size),
    ));
    let small = by_size_class
        .iter()
        .find(|r| r.label == SizeClass::Small.japanese_name())
        .map(|r| r.spending.net)
        .unwrap_or(Yen::ZERO);

    let resident_rows = |groups: Vec<(String, Group)>| -> Vec<ResidentGroupRow> {
        groups
            .into_iter()
            .map(|(label, g)| {
                let residents = g.residents();
                ResidentGroupRow {
                    label,
                    residents,
                    spending: residents.guard(g.spending),
                }
            })
            .collect()
    };
    // Spending and participation group residents the same way.
    let band_of = |resident: i64| {
        resident_info
            .get(&resident)
            .and_then(|r| r.band)
            .map(|b| AGE_BANDS[b].to_string())
            .unwrap_or_else(|| UNKNOWN.to_string())
    };
    let district_of = |resident: i64| {
        resident_info
            .get(&resident)
            .map(|r| r.district.clone())
            .unwrap_or_else(|| UNKNOWN.to_string())
    };
    let bands = || AGE_BANDS.iter().map(|s| s.to_string());
    let by_age_band = resident_rows(group_by(&cells, bands(), |c| band_of(c.resident)));
    let by_resident_district = resident_rows(group_by(&cells, districts.clone(), |c| {
        district_of(c.resident)
    }));
    let points_by_event = by_event(&claims);
    let points_by_age_band =
        participation_rows(group_by(&claims, bands(), |c| band_of(c.resident)));
    let points_by_district =
        participation_rows(group_by(&claims, districts, |c| district_of(c.resident)));

    let sets = |issued: Yen| {
        if programme.set_value.is_positive() {
            issued.get() / programme.set_value.get()
        } else {
            0
        }
    };
    let summary = Summary {
        residents_new: ResidentCount::new(count(pool, RESIDENTS_SQL, start, end).await?),
        residents_total: ResidentCount::new(count(pool, RESIDENTS_SQL, 0, end).await?),
        installs_new: ResidentCount::new(count(pool, INSTALLS_SQL, start, end).await?),
        installs_total: ResidentCount::new(count(pool, INSTALLS_SQL, 0, end).await?),
        active_residents: ResidentCount::new(payers.len() as i64),
        stores_approved: count(pool, STORES_SQL, 0, end).await?,
        stores_active: stores_active.len() as i64,
        spending: total.spending,
        sets_sold: sets(in_period.issued.premium),
        sets_sold_total: sets(to_end.issued.premium),
        issued: in_period.issued,
        issued_total: to_end.issued,
        spent_total: to_end.spent,
        redemption: ratio(to_end.spent, to_end.issued.total),
        premium_redemption: ratio(to_end.spent_premium, to_end.issued.premium),
        small_store_share: ratio(small, total.spending.net),
        unspent: to_end.unspent,
        breakage: in_period.breakage,
        breakage_total: to_end.breakage,
        points: in_period.points,
        points_total: to_end.points,
    };
    Ok(Report {
        programme_id: programme.id.clone(),
        programme_name: programme.name.clone(),
        period,
        summary,
        by_day,
        by_industry,
        by_store_district,
        by_size_class,
        by_age_band,
        by_resident_district,
        points_by_event,
        points_by_age_band,
        points_by_district,
    })
}
