//! What the store features keep for the life of the server: the live payment feed, the fonts
//! of posters and statements, and the key of the web form tokens.

use crate::csrf::FormKey;
use crate::db::Db;
use crate::pdf::Fonts;
use crate::store_mode::PaymentFeed;
use chrono::{DateTime, Utc};

#[derive(Debug, Default)]
pub struct StoreServices {
    pub feed: PaymentFeed,
    pub fonts: Fonts,
    form_key: tokio::sync::OnceCell<FormKey>,
}

impl StoreServices {
    pub fn with_fonts(fonts: Fonts) -> StoreServices {
        StoreServices {
            fonts,
            ..StoreServices::default()
        }
    }

    /// The form token key, read from (or made in) the database on first use.
    pub async fn form_key(&self, db: &Db, now: DateTime<Utc>) -> Result<&FormKey, sqlx::Error> {
        self.form_key
            .get_or_try_init(|| FormKey::load(db, now))
            .await
    }
}
