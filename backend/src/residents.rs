//! Residents: registration (every field parsed once, here, into types that cannot hold an
//! invalid value) and their profile. Only residents of the programme's city may register.

use crate::clock::to_millis;
use crate::crypto::{HashCost, hash_secret};
use crate::db::{Db, is_unique_violation};
use crate::ledger;
use crate::programme::Programme;
use chiiki_core::protocol::{RegisterResident, ResidentProfile};
use chrono::{DateTime, NaiveDate, Utc};

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

fn email(raw: Option<&str>) -> Result<Option<String>, ResidentError> {
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
pub async fn register(
    db: &Db,
    new: NewResident,
    cost: HashCost,
    now: DateTime<Utc>,
) -> Result<i64, ResidentError> {
    let password = new.password.clone();
    let pin = new.pin.clone();
    let (password_hash, pin_hash) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::crypto::CryptoError>((
            hash_secret(&password, cost)?,
            hash_secret(pin.as_str(), cost)?,
        ))
    })
    .await
    .map_err(|e| crate::crypto::CryptoError::Hash(e.to_string()))??;
    let mut tx = db.begin().await?;
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO residents
             (name, kana, birth_date, postal_code, district, address, phone, email,
              pin_hash, pin_failures, payment_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 0, $10) RETURNING id",
    )
    .bind(&new.name)
    .bind(new.kana.as_str())
    .bind(new.birth_date.to_string())
    .bind(new.postal_code.as_str())
    .bind(&new.district)
    .bind(&new.address)
    .bind(new.phone.as_str())
    .bind(&new.email)
    .bind(&pin_hash)
    .bind(to_millis(now))
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(ResidentError::PhoneTaken),
        Err(e) => return Err(e.into()),
    };
    let credential = crate::auth::insert_credential(
        &mut tx,
        new.phone.as_str(),
        &password_hash,
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
    ledger::open_resident_purses(&mut tx, id, now).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn profile(db: &Db, resident_id: i64) -> Result<ResidentProfile, ResidentError> {
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
    );
    let row = sqlx::query_as::<_, Row>(
        "SELECT name, kana, birth_date, postal_code, district, address, phone, email
         FROM residents WHERE id = $1",
    )
    .bind(resident_id)
    .fetch_optional(db.reader())
    .await?
    .ok_or(ResidentError::Unknown)?;
    let (name, kana, birth_date, postal_code, district, address, phone, email) = row;
    Ok(ResidentProfile {
        resident_id,
        name,
        kana,
        birth_date: birth_date.parse().unwrap_or(NaiveDate::MIN),
        postal_code,
        district,
        address,
        phone,
        email,
    })
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
