//! Residents: registration (every field parsed once, here, into types that cannot hold an
//! invalid value) and their profile. Only residents of the programme's city may register.

use crate::clock::to_millis;
use crate::crypto::{HashCost, hash_secret};
use crate::db::{Db, Tx, is_unique_violation};
use crate::ledger;
use crate::programme::Programme;
use crate::vault::{Vault, VaultError};
use chiiki_core::protocol::{RegisterResident, ResidentProfile};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::AssertSqlSafe;

#[derive(Debug, thiserror::Error)]
pub enum ResidentError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("this phone number is already registered")]
    PhoneTaken,
    #[error("no such resident")]
    Unknown,
    #[error(transparent)]
    Hash(#[from] crate::crypto::CryptoError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: &'static str) -> ResidentError {
    ResidentError::Invalid { field, message }
}

/// Full-width digits and hyphens (０-９, －, ー) become ASCII; spaces go.
fn ascii_digits(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '－' | 'ー' | '‐' | '−' => '-',
            other => other,
        })
        .collect()
}

/// A Japanese phone number, digits only: `09000000001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Phone, ResidentError> {
        let digits: String = ascii_digits(raw).chars().filter(|c| *c != '-').collect();
        let ok = digits.starts_with('0')
            && (10..=11).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit());
        if ok {
            Ok(Phone(digits))
        } else {
            Err(invalid(
                "phone",
                "電話番号は0から始まる10桁か11桁の数字で入力してください。",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal code, `NNN-NNNN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalCode(String);

impl PostalCode {
    pub fn parse(raw: &str) -> Result<PostalCode, ResidentError> {
        let digits: String = ascii_digits(raw).chars().filter(|c| *c != '-').collect();
        if digits.len() == 7 && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(PostalCode(format!("{}-{}", &digits[..3], &digits[3..])))
        } else {
            Err(invalid(
                "postal_code",
                "郵便番号は7桁の数字で入力してください（例: 376-0101）。",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name in full-width katakana. Hiragana is accepted and converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kana(String);

impl Kana {
    pub fn parse(raw: &str, field: &'static str) -> Result<Kana, ResidentError> {
        let converted: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                'ぁ'..='ゖ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
                '\u{3000}' => ' ',
                other => other,
            })
            .collect();
        let ok = !converted.is_empty()
            && converted.chars().count() <= 100
            && converted
                .chars()
                .all(|c| matches!(c, 'ァ'..='ヶ' | 'ー' | '・' | ' '));
        if ok {
            Ok(Kana(converted))
        } else {
            Err(invalid(field, "フリガナは全角カタカナで入力してください。"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A payment PIN: 4 to 6 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(****)")
    }
}

impl Pin {
    pub fn parse(raw: &str) -> Result<Pin, ResidentError> {
        if (4..=6).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_digit()) {
            Ok(Pin(raw.to_string()))
        } else {
            Err(invalid("pin", "暗証番号は4桁から6桁の数字にしてください。"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn parse_password(raw: &str) -> Result<&str, ResidentError> {
    let n = raw.chars().count();
    if (8..=128).contains(&n) {
        Ok(raw)
    } else {
        Err(invalid("password", "パスワードは8文字以上にしてください。"))
    }
}

fn text(raw: &str, field: &'static str, max: usize) -> Result<String, ResidentError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(invalid(field, "入力されていないか、長すぎます。"));
    }
    Ok(t.to_string())
}

pub(crate) fn email(raw: Option<&str>) -> Result<Option<String>, ResidentError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let ok = raw.len() <= 254
        && !raw.chars().any(char::is_whitespace)
        && raw.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.contains('@')
        });
    if ok {
        Ok(Some(raw.to_string()))
    } else {
        Err(invalid("email", "メールアドレスの形が正しくありません。"))
    }
}

/// A registration that passed every check.
#[derive(Debug)]
pub struct NewResident {
    pub name: String,
    pub kana: Kana,
    pub birth_date: NaiveDate,
    pub postal_code: PostalCode,
    pub district: String,
    pub address: String,
    pub phone: Phone,
    pub email: Option<String>,
    pub password: String,
    pub pin: Pin,
}

impl NewResident {
    pub fn parse(
        req: &RegisterResident,
        programme: &Programme,
        today: NaiveDate,
    ) -> Result<NewResident, ResidentError> {
        let name = text(&req.name, "name", 60)?;
        let kana = Kana::parse(&req.kana, "kana")?;
        let oldest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
        if req.birth_date > today || req.birth_date < oldest {
            return Err(invalid("birth_date", "生年月日が正しくありません。"));
        }
        let postal_code = PostalCode::parse(&req.postal_code)?;
        let district = programme
            .city
            .district(req.district.trim())
            .ok_or_else(|| invalid("district", "市内の地区を選んでください。"))?;
        if !district.has_postal_code(postal_code.as_str()) {
            return Err(invalid(
                "postal_code",
                "郵便番号が市内（選んだ地区）のものではありません。",
            ));
        }
        Ok(NewResident {
            name,
            kana,
            birth_date: req.birth_date,
            postal_code,
            district: district.name.clone(),
            address: text(&req.address, "address", 200)?,
            phone: Phone::parse(&req.phone)?,
            email: email(req.email.as_deref())?,
            password: parse_password(&req.password)?.to_string(),
            pin: Pin::parse(&req.pin)?,
        })
    }
}

/// Stores a parsed registration with its login and purses. Returns the resident id.
/// The sealed columns of `residents`, in the order `SEALED_COLUMNS` lists them.
const SEALED_COLUMNS: [&str; 7] = [
    "name",
    "kana",
    "birth_date",
    "postal_code",
    "address",
    "phone",
    "email",
];

/// The additional authenticated data of a sealed resident column.
fn field(column: &str) -> String {
    format!("residents.{column}")
}

/// The login a resident's credential is stored under: a blind index of the phone number, so
/// the number itself is nowhere in clear.
pub fn phone_login(vault: &Vault, phone: &Phone) -> String {
    format!("phone:{}", vault.blind_index("phone", phone.as_str()))
}

/// The help desk's exact-match name search key: the kana without spaces.
pub fn kana_index(vault: &Vault, kana: &Kana) -> String {
    let compact: String = kana.as_str().chars().filter(|c| *c != ' ').collect();
    vault.blind_index("kana", &compact)
}

/// Stores a parsed registration with its login and purses. Personal data is sealed by the
/// database's vault before it leaves this function. Returns the resident id.
pub async fn register(
    db: &Db,
    new: NewResident,
    cost: HashCost,
    now: DateTime<Utc>,
) -> Result<i64, ResidentError> {
    let password = new.password.clone();
    let pin = new.pin.clone();
    let pepper = db.vault().pin_pepper();
    let (password_hash, pin_hash) = crate::crypto::hashing(move || {
        Ok::<_, crate::crypto::CryptoError>((
            hash_secret(&password, cost)?,
            crate::crypto::hash_pin(pin.as_str(), &pepper)?,
        ))
    })
    .await??;
    let mut tx = db.begin().await?;
    let id = insert_registered(&mut tx, db.vault(), &new, &password_hash, &pin_hash, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Stores a registration whose password and PIN are already hashed, inside `tx`: the
/// resident (personal data sealed), the login and the purses. `register` is the way in for
/// people; the load benchmark seeds thousands of residents with one hash through here.
pub async fn insert_registered(
    tx: &mut Tx,
    vault: &Vault,
    new: &NewResident,
    password_hash: &str,
    pin_hash: &str,
    now: DateTime<Utc>,
) -> Result<i64, ResidentError> {
    let birth_date = new.birth_date.to_string();
    let plain: [Option<&str>; 7] = [
        Some(&new.name),
        Some(new.kana.as_str()),
        Some(&birth_date),
        Some(new.postal_code.as_str()),
        Some(&new.address),
        Some(new.phone.as_str()),
        new.email.as_deref(),
    ];
    let mut sealed = Vec::with_capacity(plain.len());
    for (column, value) in SEALED_COLUMNS.iter().zip(plain) {
        sealed.push(match value {
            Some(v) => Some(vault.seal(&field(column), v)?),
            None => None,
        });
    }
    let login = phone_login(vault, &new.phone);
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO residents
             (name, kana, birth_date, postal_code, address, phone, email, district,
              phone_index, kana_index, birth_year, pin_hash, pin_failures, payment_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, $13) RETURNING id",
    )
    .bind(&sealed[0])
    .bind(&sealed[1])
    .bind(&sealed[2])
    .bind(&sealed[3])
    .bind(&sealed[4])
    .bind(&sealed[5])
    .bind(&sealed[6])
    .bind(&new.district)
    .bind(vault.blind_index("phone", new.phone.as_str()))
    .bind(kana_index(vault, &new.kana))
    .bind(i64::from(new.birth_date.year()))
    .bind(pin_hash)
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(ResidentError::PhoneTaken),
        Err(e) => return Err(e.into()),
    };
    let credential = crate::auth::insert_credential(
        tx,
        &login,
        password_hash,
        crate::auth::PrincipalKind::Resident,
        id,
        now,
    )
    .await;
    match credential {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(ResidentError::PhoneTaken),
        Err(e) => return Err(e.into()),
    }
    ledger::open_resident_purses(tx, id, now).await?;
    Ok(id)
}

/// A resident's own record, opened.
pub async fn profile(db: &Db, resident_id: i64) -> Result<ResidentProfile, ResidentError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
    );
    let row = sqlx::query_as::<_, Row>(
        "SELECT name, kana, birth_date, postal_code, address, phone, email, district
         FROM residents WHERE id = $1",
    )
    .bind(resident_id)
    .fetch_optional(db.reader())
    .await?
    .ok_or(ResidentError::Unknown)?;
    let vault = db.vault();
    let open = |column: &str, value: &str| vault.open(&field(column), value);
    let (name, kana, birth_date, postal_code, address, phone, email, district) = row;
    Ok(ResidentProfile {
        resident_id,
        name: open("name", &name)?,
        kana: open("kana", &kana)?,
        birth_date: open("birth_date", &birth_date)?
            .parse()
            .map_err(|_| ResidentError::Vault(VaultError::Tampered))?,
        postal_code: open("postal_code", &postal_code)?,
        district,
        address: open("address", &address)?,
        phone: open("phone", &phone)?,
        email: email.map(|e| open("email", &e)).transpose()?,
    })
}

/// The resident's name as the app greets them.
pub async fn display_name(db: &Db, resident_id: i64) -> Result<String, ResidentError> {
    let sealed = sqlx::query_scalar::<_, String>("SELECT name FROM residents WHERE id = $1")
        .bind(resident_id)
        .fetch_optional(db.reader())
        .await?
        .ok_or(ResidentError::Unknown)?;
    Ok(db.vault().open(&field("name"), &sealed)?)
}

/// Residents whose kana is exactly `kana` (spaces ignored): the help desk's name search,
/// through the blind index.
pub async fn find_by_kana(db: &Db, kana: &str) -> Result<Vec<i64>, ResidentError> {
    let kana = Kana::parse(kana, "kana")?;
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM residents WHERE kana_index = $1 ORDER BY id")
            .bind(kana_index(db.vault(), &kana))
            .fetch_all(db.reader())
            .await?,
    )
}

/// The resident with this phone number, through the blind index.
pub async fn find_by_phone(db: &Db, phone: &str) -> Result<Option<i64>, ResidentError> {
    let phone = Phone::parse(phone)?;
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM residents WHERE phone_index = $1")
            .bind(db.vault().blind_index("phone", phone.as_str()))
            .fetch_optional(db.reader())
            .await?,
    )
}

/// Re-seals every resident column that is not under the vault's active key (key rotation).
/// Safe while serving: each value is replaced only if nobody changed it meanwhile. Returns how
/// many values were re-sealed.
pub async fn reseal_all(db: &Db) -> Result<u64, ResidentError> {
    let vault = db.vault();
    let active = vault.active_key();
    let mut count = 0;
    for column in SEALED_COLUMNS {
        let rows = sqlx::query_as::<_, (i64, Option<String>)>(AssertSqlSafe(format!(
            "SELECT id, {column} FROM residents ORDER BY id"
        )))
        .fetch_all(db.reader())
        .await?;
        for (id, value) in rows {
            let Some(value) = value else { continue };
            if Vault::key_of(&value) == Some(active.as_str()) {
                continue;
            }
            let plain = vault.open(&field(column), &value)?;
            let resealed = vault.seal(&field(column), &plain)?;
            let changed = sqlx::query(AssertSqlSafe(format!(
                "UPDATE residents SET {column} = $1 WHERE id = $2 AND {column} = $3"
            )))
            .bind(resealed)
            .bind(id)
            .bind(&value)
            .execute(db.writer())
            .await?;
            count += changed.rows_affected();
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RegisterResident {
        RegisterResident {
            name: "山田 花子".into(),
            kana: "やまだ はなこ".into(),
            birth_date: NaiveDate::from_ymd_opt(1950, 4, 1).unwrap(),
            postal_code: "３７６－０１０１".into(),
            address: "大間々1-2-3".into(),
            district: "大間々町".into(),
            phone: "090-1234-5678".into(),
            email: None,
            password: "correct horse".into(),
            pin: "1234".into(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 11, 1).unwrap()
    }

    #[test]
    fn registration_normalises_what_people_type() {
        let p = Programme::midori_2024().unwrap();
        let r = NewResident::parse(&request(), &p, today()).unwrap();
        assert_eq!(r.kana.as_str(), "ヤマダ ハナコ");
        assert_eq!(r.postal_code.as_str(), "376-0101");
        assert_eq!(r.phone.as_str(), "09012345678");
    }

    #[test]
    fn registration_refuses_people_outside_the_city() {
        let p = Programme::midori_2024().unwrap();
        let mut req = request();
        req.postal_code = "371-0000".into();
        let err = NewResident::parse(&req, &p, today()).unwrap_err();
        assert!(matches!(
            err,
            ResidentError::Invalid {
                field: "postal_code",
                ..
            }
        ));
        let mut req = request();
        req.district = "前橋市".into();
        let err = NewResident::parse(&req, &p, today()).unwrap_err();
        assert!(matches!(
            err,
            ResidentError::Invalid {
                field: "district",
                ..
            }
        ));
    }

    #[test]
    fn each_bad_field_is_named() {
        let p = Programme::midori_2024().unwrap();
        type Spoil = fn(&mut RegisterResident);
        let cases: Vec<(Spoil, &str)> = vec![
            (|r| r.kana = "Yamada".into(), "kana"),
            (|r| r.phone = "12345".into(), "phone"),
            (|r| r.pin = "12".into(), "pin"),
            (|r| r.pin = "12a4".into(), "pin"),
            (|r| r.pin = "1234567".into(), "pin"),
            (|r| r.password = "short".into(), "password"),
            (|r| r.email = Some("no-at-sign".into()), "email"),
            (|r| r.name = "  ".into(), "name"),
            (
                |r| r.birth_date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                "birth_date",
            ),
        ];
        for (spoil, expected) in cases {
            let mut req = request();
            spoil(&mut req);
            match NewResident::parse(&req, &p, today()) {
                Err(ResidentError::Invalid { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }
}
