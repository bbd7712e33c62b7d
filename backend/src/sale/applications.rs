//! Applications: one per resident per programme, for 1..limit sets, made, changed or
//! withdrawn only inside the application window (JST days). Each application gets a random
//! pseudonym when first made; the lottery publishes applications under it.
//!
//! This module must never let an application change after its window has closed: the lottery
//! commits to the list of applications as it stands then.

use super::{SaleError, SaleResult};
use crate::clock::{from_millis, to_millis};
use crate::db::{Db, is_unique_violation};
use crate::programme::Programme;
use chiiki_core::protocol::SaleApplication;
use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};

/// A number of sets one resident may hold: 1 to the programme's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetCount(i64);

impl SetCount {
    pub fn parse(sets: i64, programme: &Programme) -> SaleResult<SetCount> {
        if (1..=programme.limit_per_resident).contains(&sets) {
            Ok(SetCount(sets))
        } else {
            Err(SaleError::SetsOutOfRange {
                limit: programme.limit_per_resident,
            })
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// 16 lowercase hex characters from the system's secure random generator: unguessable, so
/// that nobody can tell who is behind a published application.
fn new_pseudonym() -> SaleResult<String> {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| SaleError::Db(sqlx::Error::Protocol("random generator failed".into())))?;
    Ok(hex::encode(bytes))
}

fn open_window(programme: &Programme, now: DateTime<Utc>) -> SaleResult<()> {
    if programme.application.contains(now) {
        Ok(())
    } else {
        Err(SaleError::ApplicationsClosed {
            window: programme.application,
        })
    }
}

/// Applies for `sets`, or changes the resident's application to `sets` (a withdrawn
/// application comes back with its old pseudonym).
pub async fn apply(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
    sets: SetCount,
    now: DateTime<Utc>,
) -> SaleResult<SaleApplication> {
    open_window(programme, now)?;
    // A first application races only with itself (a double tap) or with a pseudonym that
    // happens to exist: both are unique violations, and a new attempt settles them.
    for _ in 0..5 {
        let mut tx = db.begin().await?;
        let changed = sqlx::query_scalar::<_, String>(
            "UPDATE sale_applications SET sets = $1, withdrawn = 0, updated_at = $2
             WHERE programme = $3 AND resident_id = $4 RETURNING pseudonym",
        )
        .bind(sets.get())
        .bind(to_millis(now))
        .bind(&programme.id)
        .bind(resident_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(pseudonym) = changed {
            tx.commit().await?;
            return Ok(SaleApplication {
                sets: sets.get(),
                pseudonym,
                updated_at: now,
            });
        }
        let pseudonym = new_pseudonym()?;
        let inserted = sqlx::query(
            "INSERT INTO sale_applications
                 (programme, resident_id, pseudonym, sets, withdrawn, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(&programme.id)
        .bind(resident_id)
        .bind(&pseudonym)
        .bind(sets.get())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await?;
                return Ok(SaleApplication {
                    sets: sets.get(),
                    pseudonym,
                    updated_at: now,
                });
            }
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                continue;
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Err(SaleError::UnknownResident);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(SaleError::Db(sqlx::Error::Protocol(
        "could not store the application after several attempts".into(),
    )))
}

/// Withdraws the resident's application.
pub async fn withdraw(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
    now: DateTime<Utc>,
) -> SaleResult<()> {
    open_window(programme, now)?;
    let done = sqlx::query(
        "UPDATE sale_applications SET withdrawn = 1, updated_at = $1
         WHERE programme = $2 AND resident_id = $3 AND withdrawn = 0",
    )
    .bind(to_millis(now))
    .bind(&programme.id)
    .bind(resident_id)
    .execute(db.writer())
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(SaleError::NoApplication)
    }
}

/// The resident's current (not withdrawn) application.
pub async fn current(
    db: &Db,
    programme: &Programme,
    resident_id: i64,
) -> SaleResult<Option<SaleApplication>> {
    let row = sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT sets, pseudonym, updated_at FROM sale_applications
         WHERE programme = $1 AND resident_id = $2 AND withdrawn = 0",
    )
    .bind(&programme.id)
    .bind(resident_id)
    .fetch_optional(db.writer())
    .await?;
    Ok(row.map(|(sets, pseudonym, updated_at)| SaleApplication {
        sets,
        pseudonym,
        updated_at: from_millis(updated_at),
    }))
}

/// An application as the lottery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub pseudonym: String,
    pub resident_id: i64,
    pub sets: i64,
}

/// Every application standing (not withdrawn), sorted by pseudonym (byte order, in Rust, so
/// that no database collation can change it).
pub async fn standing<'e, E>(exec: E, programme: &Programme) -> SaleResult<Vec<Applicant>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut rows = sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT pseudonym, resident_id, sets FROM sale_applications
         WHERE programme = $1 AND withdrawn = 0",
    )
    .bind(&programme.id)
    .fetch_all(exec)
    .await?
    .into_iter()
    .map(|(pseudonym, resident_id, sets)| Applicant {
        pseudonym,
        resident_id,
        sets,
    })
    .collect::<Vec<_>>();
    rows.sort_by(|a, b| a.pseudonym.as_bytes().cmp(b.pseudonym.as_bytes()));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_one_to_the_limit() {
        let p = Programme::midori_2024().unwrap();
        assert_eq!(SetCount::parse(1, &p).unwrap().get(), 1);
        assert_eq!(SetCount::parse(2, &p).unwrap().get(), 2);
        for bad in [0, -1, 3, i64::MAX] {
            assert!(matches!(
                SetCount::parse(bad, &p),
                Err(SaleError::SetsOutOfRange { limit: 2 })
            ));
        }
    }

    #[test]
    fn pseudonyms_are_sixteen_hex_characters_and_differ() {
        let a = new_pseudonym().unwrap();
        let b = new_pseudonym().unwrap();
        assert_eq!(a.len(), 16);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
