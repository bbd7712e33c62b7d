//! Identities and sessions: one credential (login + argon2 password hash) per resident, store
//! staff member or city staff member; a session per device login, known to the server only by
//! the SHA-256 of its bearer token; payment PINs with lockout after repeated failures.

use crate::clock::{from_millis, to_millis};
use crate::crypto::{self, CryptoError, HashCost, PinMatch};
use crate::db::{Db, Tx, is_unique_violation};
use chiiki_core::protocol::{Role, SessionCreated};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("not signed in, or the session has ended")]
    Unauthorized,
    #[error("login or password is wrong")]
    InvalidCredentials,
    #[error("not allowed")]
    Forbidden,
    #[error("wrong PIN ({remaining} tries left)")]
    WrongPin { remaining: i64 },
    #[error("payments are locked until {until}")]
    PinLocked { until: DateTime<Utc> },
    #[error("the device public key is not an uncompressed P-256 point in base64")]
    InvalidPublicKey,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("this login is taken")]
    LoginTaken,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    Resident,
    StoreStaff,
    Staff,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Resident => "resident",
            PrincipalKind::StoreStaff => "store_staff",
            PrincipalKind::Staff => "staff",
        }
    }

    fn parse(s: &str) -> Option<PrincipalKind> {
        match s {
            "resident" => Some(PrincipalKind::Resident),
            "store_staff" => Some(PrincipalKind::StoreStaff),
            "staff" => Some(PrincipalKind::Staff),
            _ => None,
        }
    }
}

/// Who is calling, resolved from a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub credential_id: i64,
    pub kind: PrincipalKind,
    /// The resident, store staff or staff row id.
    pub id: i64,
    pub role: Role,
    pub device_id: i64,
    pub store_id: Option<i64>,
}

impl Principal {
    /// The name the ledger and the idempotency keys use for this caller: `resident:12`.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }

    pub fn resident_id(&self) -> Result<i64, AuthError> {
        match self.kind {
            PrincipalKind::Resident => Ok(self.id),
            _ => Err(AuthError::Forbidden),
        }
    }

    /// City staff who may change things (administrators and operators).
    pub fn require_operator(&self) -> Result<(), AuthError> {
        if self.role.can_operate() {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }
}

/// How long a device stays signed in.
fn session_lifetime(kind: PrincipalKind) -> Duration {
    match kind {
        PrincipalKind::Staff => Duration::hours(12),
        _ => Duration::days(180),
    }
}

pub async fn insert_credential(
    tx: &mut Tx,
    login: &str,
    password_hash: &str,
    kind: PrincipalKind,
    principal_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO credentials (login, password_hash, principal_kind, principal_id, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(login)
    .bind(password_hash)
    .bind(kind.as_str())
    .bind(principal_id)
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await
}

async fn hash(secret: String, cost: HashCost) -> Result<String, AuthError> {
    crypto::hashing(move || crypto::hash_secret(&secret, cost))
        .await?
        .map_err(AuthError::from)
}

async fn verify(secret: String, stored: String) -> Result<bool, AuthError> {
    Ok(crypto::hashing(move || crypto::verify_secret(&secret, &stored)).await?)
}

fn validate_login(login: &str) -> Result<(), AuthError> {
    let ok = (3..=32).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid {
            field: "login",
            message: "ログインIDは3〜32文字の英数字にしてください。",
        })
    }
}

/// Checks a new login and password and hashes the password.
async fn new_login(login: &str, password: &str, cost: HashCost) -> Result<String, AuthError> {
    validate_login(login)?;
    crate::residents::parse_password(password).map_err(|_| AuthError::Invalid {
        field: "password",
        message: "パスワードは8文字以上にしてください。",
    })?;
    hash(password.to_string(), cost).await
}

fn login_taken(e: sqlx::Error) -> AuthError {
    if is_unique_violation(&e) {
        AuthError::LoginTaken
    } else {
        e.into()
    }
}

/// Creates a city staff account.
pub async fn create_staff(
    db: &Db,
    login: &str,
    password: &str,
    display_name: &str,
    role: Role,
    cost: HashCost,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    let role_name = match role {
        Role::Administrator => "administrator",
        Role::Operator => "operator",
        Role::Viewer => "viewer",
        _ => return Err(AuthError::Forbidden),
    };
    let password_hash = new_login(login, password, cost).await?;
    let mut tx = db.begin().await?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO staff (display_name, role, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(display_name)
    .bind(role_name)
    .bind(to_millis(now))
    .fetch_one(&mut *tx)
    .await?;
    insert_credential(
        &mut tx,
        login,
        &password_hash,
        PrincipalKind::Staff,
        id,
        now,
    )
    .await
    .map_err(login_taken)?;
    tx.commit().await?;
    Ok(id)
}

/// Creates a login for a member of a store's staff.
pub async fn create_store_staff(
    db: &Db,
    store_id: i64,
    login: &str,
    password: &str,
    cost: HashCost,
    now: DateTime<Utc>,
) -> Result<i64, AuthError> {
    let password_hash = new_login(login, password, cost).await?;
    let mut tx = db.begin().await?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO store_staff (store_id, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(store_id)
    .bind(to_millis(now))
    .fetch_one(&mut *tx)
    .await?;
    insert_credential(
        &mut tx,
        login,
        &password_hash,
        PrincipalKind::StoreStaff,
        id,
        now,
    )
    .await
    .map_err(login_taken)?;
    tx.commit().await?;
    Ok(id)
}

pub struct LoginInput<'a> {
    pub login: &'a str,
    pub password: &'a str,
    pub device_name: &'a str,
    pub public_key: Option<&'a str>,
}

/// Signs a device in: checks the password, registers the device (and its public key), and
/// returns a new bearer token.
pub async fn login(
    db: &Db,
    input: LoginInput<'_>,
    now: DateTime<Utc>,
) -> Result<SessionCreated, AuthError> {
    let device_name = input.device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > 100 {
        return Err(AuthError::Invalid {
            field: "device_name",
            message: "端末名を100文字以内で入力してください。",
        });
    }
    let public_key = match input.public_key {
        Some(b64) => Some(crypto::parse_device_public_key(b64).ok_or(AuthError::InvalidPublicKey)?),
        None => None,
    };
    let row = sqlx::query_as::<_, (i64, String, String, i64)>(
        "SELECT id, password_hash, principal_kind, principal_id FROM credentials WHERE login = $1",
    )
    .bind(stored_login(db, input.login))
    .fetch_optional(db.reader())
    .await?;
    let Some((credential_id, stored, kind, principal_id)) = row else {
        // Spend the same time as a real check, so logins cannot be discovered by timing.
        let _ = verify(input.password.to_string(), DUMMY_HASH.clone()).await;
        return Err(AuthError::InvalidCredentials);
    };
    if !verify(input.password.to_string(), stored).await? {
        return Err(AuthError::InvalidCredentials);
    }
    let kind = PrincipalKind::parse(&kind).ok_or(AuthError::InvalidCredentials)?;
    let mut tx = db.begin().await?;
    let (token, device_id) =
        open_session(&mut tx, credential_id, kind, device_name, public_key, now).await?;
    tx.commit().await?;
    let principal = authenticate(db, &token, now).await?;
    let display_name = display_name(db, &principal).await?;
    Ok(SessionCreated {
        token,
        role: principal.role,
        display_name,
        device_id,
        resident_id: (kind == PrincipalKind::Resident).then_some(principal_id),
        store_id: principal.store_id,
    })
}

/// Registers a device of a credential whose secret was already checked and opens a session
/// for it; returns the new bearer token and the device id.
pub async fn open_session(
    tx: &mut Tx,
    credential_id: i64,
    kind: PrincipalKind,
    device_name: &str,
    public_key: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<(String, i64), AuthError> {
    let token = crypto::new_token()?;
    let device_id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO devices (credential_id, name, public_key, created_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(credential_id)
    .bind(device_name)
    .bind(public_key)
    .bind(to_millis(now))
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, credential_id, device_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crypto::token_hash(&token))
    .bind(credential_id)
    .bind(device_id)
    .bind(to_millis(now))
    .bind(to_millis(now + session_lifetime(kind)))
    .execute(&mut **tx)
    .await?;
    Ok((token, device_id))
}

/// How a typed login is stored: residents sign in with their phone number (typed any way:
/// `090-1234-5678`, full-width digits), kept only as a blind index; other logins as typed.
pub fn stored_login(db: &Db, typed: &str) -> String {
    let typed = typed.trim();
    match crate::residents::Phone::parse(typed) {
        Ok(phone) => crate::residents::phone_login(db.vault(), &phone),
        Err(_) => typed.to_string(),
    }
}

/// A hash of nothing in particular, verified against when a login does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    crypto::hash_secret("no such login", HashCost::default()).unwrap_or_default()
});

/// Resolves a bearer token to its principal.
pub async fn authenticate(
    db: &Db,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    // One statement for every kind of caller: this runs before every signed-in request.
    let row = sqlx::query_as::<_, SessionRow>(
        "SELECT c.id, s.device_id, c.principal_kind, c.principal_id, s.expires_at, s.revoked_at,
                st.role, m.store_id
         FROM sessions s JOIN credentials c ON c.id = s.credential_id
         LEFT JOIN staff st ON c.principal_kind = 'staff' AND st.id = c.principal_id
         LEFT JOIN store_staff m ON c.principal_kind = 'store_staff' AND m.id = c.principal_id
         WHERE s.token_hash = $1",
    )
    .bind(crypto::token_hash(token))
    .fetch_optional(db.reader())
    .await?;
    let Some((credential_id, device_id, kind, id, expires_at, revoked_at, role, store_id)) = row
    else {
        return Err(AuthError::Unauthorized);
    };
    if revoked_at.is_some() || from_millis(expires_at) <= now {
        return Err(AuthError::Unauthorized);
    }
    let kind = PrincipalKind::parse(&kind).ok_or(AuthError::Unauthorized)?;
    let (role, store_id) = match kind {
        PrincipalKind::Resident => (Role::Resident, None),
        PrincipalKind::StoreStaff => (
            Role::StoreStaff,
            Some(store_id.ok_or(AuthError::Unauthorized)?),
        ),
        PrincipalKind::Staff => match role.as_deref() {
            Some("administrator") => (Role::Administrator, None),
            Some("operator") => (Role::Operator, None),
            Some(_) => (Role::Viewer, None),
            None => return Err(AuthError::Unauthorized),
        },
    };
    Ok(Principal {
        credential_id,
        kind,
        id,
        role,
        device_id,
        store_id,
    })
}

/// credential, device, kind, principal, expiry, revocation, staff role, store of store staff.
type SessionRow = (
    i64,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

/// Ends a session (signing out): its token no longer authenticates.
pub async fn revoke_session(db: &Db, token: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
        .bind(to_millis(now))
        .bind(crypto::token_hash(token))
        .execute(db.writer())
        .await?;
    Ok(())
}

/// The name a caller is greeted with: a resident's own name (unsealed), the store of store
/// staff, a staff member's display name. Read only where a page shows it.
pub async fn display_name(db: &Db, who: &Principal) -> Result<String, AuthError> {
    let name =
        match (who.kind, who.store_id) {
            (PrincipalKind::Resident, _) => crate::residents::display_name(db, who.id)
                .await
                .map_err(|e| match e {
                    crate::residents::ResidentError::Db(e) => AuthError::Db(e),
                    _ => AuthError::Unauthorized,
                })?,
            (PrincipalKind::StoreStaff, Some(store_id)) => {
                sqlx::query_scalar::<_, String>("SELECT name FROM stores WHERE id = $1")
                    .bind(store_id)
                    .fetch_optional(db.reader())
                    .await?
                    .ok_or(AuthError::Unauthorized)?
            }
            (PrincipalKind::StoreStaff, None) => return Err(AuthError::Unauthorized),
            (PrincipalKind::Staff, _) => {
                sqlx::query_scalar::<_, String>("SELECT display_name FROM staff WHERE id = $1")
                    .bind(who.id)
                    .fetch_optional(db.reader())
                    .await?
                    .ok_or(AuthError::Unauthorized)?
            }
        };
    Ok(name)
}

/// How many wrong PINs lock payments, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinPolicy {
    pub max_failures: i64,
    pub lock_for: Duration,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            max_failures: 5,
            lock_for: Duration::minutes(30),
        }
    }
}

/// A resident's payment PIN as a transaction read it: the stored hash, the count of wrong
/// PINs and the lock. Attempts are checked in memory, in the order they came, and
/// [`save_pins`] writes what changed in the same transaction; so a batch of payments counts a
/// resident's wrong PINs exactly as one payment after another would.
#[derive(Debug, Clone)]
pub struct PinState {
    hash: String,
    failures: i64,
    locked_until: Option<DateTime<Utc>>,
    changed: bool,
}

impl PinState {
    /// Checks one attempt. Wrong PINs are counted; the `max_failures`-th locks payments for
    /// `lock_for`. A correct PIN resets the count.
    pub async fn attempt(
        &mut self,
        pin: &str,
        pepper: &[u8; 32],
        policy: PinPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Err(AuthError::PinLocked { until });
        }
        let checked = if crypto::pin_hash_is_slow(&self.hash) {
            // Only rows from before ADR 0005, each once: the right PIN rewrites them below.
            let (pin, stored, pepper) = (pin.to_string(), self.hash.clone(), *pepper);
            crypto::hashing(move || crypto::verify_pin(&pin, &pepper, &stored)).await?
        } else {
            crypto::verify_pin(pin, pepper, &self.hash)
        };
        match checked {
            PinMatch::Yes | PinMatch::YesRehash => {
                if checked == PinMatch::YesRehash {
                    self.hash = crypto::hash_pin(pin, pepper)?;
                    self.changed = true;
                }
                if self.failures != 0 || self.locked_until.is_some() {
                    self.failures = 0;
                    self.locked_until = None;
                    self.changed = true;
                }
                Ok(())
            }
            PinMatch::No => {
                self.changed = true;
                self.failures += 1;
                if self.failures >= policy.max_failures {
                    let until = now + policy.lock_for;
                    self.failures = 0;
                    self.locked_until = Some(until);
                    return Err(AuthError::PinLocked { until });
                }
                Err(AuthError::WrongPin {
                    remaining: policy.max_failures - self.failures,
                })
            }
        }
    }
}

/// Residents paying in one transaction: whose session each token is, and their PIN states.
#[derive(Debug, Default)]
pub struct Payers {
    /// Token hash → the resident, or why the token cannot pay.
    pub sessions: HashMap<String, Result<i64, AuthError>>,
    /// Resident → PIN state, shared by all the resident's sessions in the batch.
    pub pins: HashMap<i64, PinState>,
}

/// The residents behind the sessions `token_hashes` (SHA-256 of bearer tokens) and their PIN
/// states, read inside `tx` in one statement: a payment batch authenticates its callers in
/// the transaction that pays, so nobody signed out or locked meanwhile can pay. On PostgreSQL
/// the residents' rows stay locked until the transaction ends, so concurrent attempts
/// (another batch, another server) count one after the other; rows are locked in id order,
/// which every batch shares.
pub async fn payers(
    tx: &mut Tx,
    token_hashes: &BTreeSet<&str>,
    now: DateTime<Utc>,
) -> Result<Payers, AuthError> {
    let lock = if crate::db::is_sqlite(tx) {
        ""
    } else {
        " FOR UPDATE OF r"
    };
    let rows = crate::db::padded(token_hashes.len());
    let sql = format!(
        "SELECT s.token_hash, r.id, r.pin_hash, r.pin_failures, r.pin_locked_until
         FROM sessions s JOIN credentials c ON c.id = s.credential_id
         JOIN residents r ON r.id = c.principal_id
         WHERE s.token_hash IN ({}) AND c.principal_kind = 'resident'
           AND s.revoked_at IS NULL AND s.expires_at > $1
         ORDER BY r.id{lock}",
        crate::db::placeholders(2, rows)
    );
    let mut query =
        sqlx::query_as::<_, (String, i64, String, i64, Option<i64>)>(sqlx::AssertSqlSafe(sql))
            .bind(to_millis(now));
    for hash in token_hashes {
        query = query.bind(*hash);
    }
    for _ in token_hashes.len()..rows {
        query = query.bind(None::<String>);
    }
    let mut payers = Payers::default();
    for (hash, id, pin_hash, failures, locked_until) in query.fetch_all(&mut **tx).await? {
        payers.sessions.insert(hash, Ok(id));
        payers.pins.entry(id).or_insert(PinState {
            hash: pin_hash,
            failures,
            locked_until: locked_until.map(from_millis),
            changed: false,
        });
    }
    for hash in token_hashes {
        if !payers.sessions.contains_key(*hash) {
            // Rare: say whether the token is no session at all, or another kind of caller's.
            let why = match session_kind(tx, hash, now).await? {
                Some(_) => AuthError::Forbidden,
                None => AuthError::Unauthorized,
            };
            payers.sessions.insert(hash.to_string(), Err(why));
        }
    }
    Ok(payers)
}

/// The kind of caller a live session belongs to.
async fn session_kind(
    tx: &mut Tx,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, AuthError> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT c.principal_kind FROM sessions s JOIN credentials c ON c.id = s.credential_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(to_millis(now))
    .fetch_optional(&mut **tx)
    .await?)
}

/// Writes the PIN states that attempts changed (a wrong PIN, a reset, a rewritten hash).
/// Rare next to the right PIN at the first try, so one statement each.
pub async fn save_pins(tx: &mut Tx, pins: &HashMap<i64, PinState>) -> Result<(), AuthError> {
    for (id, pin) in pins.iter().filter(|(_, pin)| pin.changed) {
        sqlx::query(
            "UPDATE residents SET pin_hash = $1, pin_failures = $2, pin_locked_until = $3
             WHERE id = $4",
        )
        .bind(&pin.hash)
        .bind(pin.failures)
        .bind(pin.locked_until.map(to_millis))
        .bind(*id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
