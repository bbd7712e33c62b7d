//! The offline cache: answers the app's `Cache` effect (`crux_kv::KeyValueOperation`) from one
//! SQLite file in the shell's data directory.
//!
//! A `Set` is durable when it is answered (WAL with `synchronous = FULL`): the app writes a
//! pending payment, PIN included, before it sends it, and relies on finding it after a crash.
//! For the same reason values are never logged, and the file lives only in the private data
//! directory the shell passes in.

use std::{path::Path, sync::Mutex};

use crux_kv::{KeyValueError, KeyValueOperation, KeyValueResponse, KeyValueResult, Value};
use rusqlite::{Connection, OptionalExtension, params};

/// The cache's file name inside the data directory.
pub const FILE_NAME: &str = "cache.sqlite3";

pub struct Cache {
    connection: Mutex<Connection>,
}

impl Cache {
    /// Open (or create) the cache at `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS kv (
                key TEXT PRIMARY KEY NOT NULL,
                value BLOB NOT NULL
            ) WITHOUT ROWID;",
        )?;
        Ok(Cache {
            connection: Mutex::new(connection),
        })
    }

    /// Carry out one operation. Never panics: any failure is a `KeyValueResult::Err`, which the
    /// app treats as "not stored" (and refuses to send a payment it could not keep).
    pub fn run(&self, operation: &KeyValueOperation) -> KeyValueResult {
        match self.try_run(operation) {
            Ok(response) => KeyValueResult::Ok { response },
            Err(error) => KeyValueResult::Err {
                error: KeyValueError::Io {
                    message: error.to_string(),
                },
            },
        }
    }

    fn try_run(&self, operation: &KeyValueOperation) -> rusqlite::Result<KeyValueResponse> {
        // A panic elsewhere while the lock was held leaves SQLite itself consistent (every
        // write is one statement or one transaction), so a poisoned lock is still usable.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(match operation {
            KeyValueOperation::Get { key } => KeyValueResponse::Get {
                value: Value::from(get(&connection, key)?),
            },
            KeyValueOperation::Set { key, value } => {
                let transaction = connection.transaction()?;
                let previous = get(&transaction, key)?;
                transaction.execute(
                    "INSERT INTO kv (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )?;
                transaction.commit()?;
                KeyValueResponse::Set {
                    previous: Value::from(previous),
                }
            }
            KeyValueOperation::Delete { key } => {
                let transaction = connection.transaction()?;
                let previous = get(&transaction, key)?;
                transaction.execute("DELETE FROM kv WHERE key = ?1", params![key])?;
                transaction.commit()?;
                KeyValueResponse::Delete {
                    previous: Value::from(previous),
                }
            }
            KeyValueOperation::Exists { key } => KeyValueResponse::Exists {
                is_present: get(&connection, key)?.is_some(),
            },
            KeyValueOperation::ListKeys { prefix, .. } => {
                // The app keeps a handful of keys: one page holds them all (cursor 0 = done).
                let mut statement = connection.prepare(
                    "SELECT key FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
                )?;
                let keys = statement
                    .query_map(params![prefix], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                KeyValueResponse::ListKeys {
                    keys,
                    next_cursor: 0,
                }
            }
        })
    }
}

fn get(connection: &Connection, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    connection
        .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |row| {
            row.get(0)
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(result: KeyValueResult) -> Option<Vec<u8>> {
        match result {
            KeyValueResult::Ok {
                response:
                    KeyValueResponse::Get {
                        value: Value::Bytes(bytes),
                    },
            } => Some(bytes),
            _ => None,
        }
    }

    #[test]
    fn a_value_set_is_there_after_the_file_is_opened_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(FILE_NAME);
        let cache = Cache::open(&path).expect("open");
        let set = cache.run(&KeyValueOperation::Set {
            key: "balance".into(),
            value: b"{\"total\":1800}".to_vec(),
        });
        assert!(matches!(set, KeyValueResult::Ok { .. }), "{set:?}");
        drop(cache);

        let reopened = Cache::open(&path).expect("reopen");
        let got = reopened.run(&KeyValueOperation::Get {
            key: "balance".into(),
        });
        assert_eq!(value(got).as_deref(), Some(&b"{\"total\":1800}"[..]));
    }

    #[test]
    fn set_and_delete_give_back_the_previous_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join(FILE_NAME)).expect("open");
        let set = |v: &[u8]| {
            cache.run(&KeyValueOperation::Set {
                key: "session".into(),
                value: v.to_vec(),
            })
        };
        set(b"one");
        let second = set(b"two");
        assert_eq!(
            second,
            KeyValueResult::Ok {
                response: KeyValueResponse::Set {
                    previous: Value::Bytes(b"one".to_vec())
                }
            }
        );
        let deleted = cache.run(&KeyValueOperation::Delete {
            key: "session".into(),
        });
        assert_eq!(
            deleted,
            KeyValueResult::Ok {
                response: KeyValueResponse::Delete {
                    previous: Value::Bytes(b"two".to_vec())
                }
            }
        );
        let missing = cache.run(&KeyValueOperation::Get {
            key: "session".into(),
        });
        assert_eq!(value(missing), None);
    }

    #[test]
    fn keys_are_listed_by_prefix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join(FILE_NAME)).expect("open");
        for key in ["history", "balance", "ba%"] {
            cache.run(&KeyValueOperation::Set {
                key: key.into(),
                value: vec![1],
            });
        }
        let listed = cache.run(&KeyValueOperation::ListKeys {
            prefix: "ba".into(),
            cursor: 0,
        });
        assert_eq!(
            listed,
            KeyValueResult::Ok {
                response: KeyValueResponse::ListKeys {
                    keys: vec!["ba%".into(), "balance".into()],
                    next_cursor: 0
                }
            }
        );
    }
}
