//! The resident's history: newest first, paged from the server, merged with what the phone
//! remembers so that nothing shows twice and nothing already seen disappears offline.

use crux_core::Command;

use crate::protocol::{Transaction, TransactionPage, paths};

use super::{
    Event, Internal,
    api::{ApiResult, Call},
    cache,
    effects::{Effect, render},
    internal,
    model::{History, Model, Retry, Screen},
    refresh,
};

/// Transactions per page.
pub const PAGE_SIZE: u32 = 30;

pub fn open(model: &mut Model) -> Command<Effect, Event> {
    if !model.signed_in() {
        return render();
    }
    model.screen = Screen::History;
    if model.history.loading {
        return render();
    }
    render().and(fetch_newest(model))
}

/// The first (newest) page.
pub fn fetch_newest(model: &mut Model) -> Command<Effect, Event> {
    fetch(model, None)
}

/// The next older page, if there is one.
pub fn load_older(model: &mut Model) -> Command<Effect, Event> {
    match model.history.next_cursor.clone() {
        Some(cursor) if !model.history.complete && !model.history.loading => {
            fetch(model, Some(cursor)).and(render())
        }
        _ => render(),
    }
}

fn fetch(model: &mut Model, cursor: Option<String>) -> Command<Effect, Event> {
    model.history.loading = true;
    let older = cursor.is_some();
    let mut call = Call::get(paths::ME_TRANSACTIONS).query("limit", PAGE_SIZE.to_string());
    if let Some(cursor) = cursor {
        call = call.query("cursor", cursor);
    }
    call.send(model.connection().as_ref(), move |result| {
        internal(Internal::HistoryFetched { older, result })
    })
}

pub fn page_fetched(
    model: &mut Model,
    older: bool,
    result: ApiResult<TransactionPage>,
) -> Command<Effect, Event> {
    model.history.loading = false;
    match result {
        Ok(page) => {
            model.offline = false;
            merge_page(&mut model.history, page, older);
            cache::save(cache::HISTORY, &model.history).and(render())
        }
        Err(error) => {
            let retry = if older {
                Retry::MoreHistory
            } else {
                Retry::Refresh
            };
            refresh::failed(model, &error, retry)
        }
    }
}

/// Merge a page into the history. The cursor moves on with an older page; with the newest page
/// it is kept when the page joins up with what is already known, and restarts after the page
/// when it does not (more happened than one page holds), so that "もっと見る" fills the gap.
fn merge_page(history: &mut History, page: TransactionPage, older: bool) {
    let joins_up = page
        .items
        .iter()
        .any(|new| history.items.iter().any(|known| known.id == new.id));
    if older || history.items.is_empty() || !joins_up {
        history.complete = page.next_cursor.is_none();
        history.next_cursor = page.next_cursor;
    }
    merge(&mut history.items, page.items);
}

fn merge(items: &mut Vec<Transaction>, page: Vec<Transaction>) {
    items.retain(|known| page.iter().all(|new| new.id != known.id));
    items.extend(page);
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::transaction;

    fn page(ids: &[i64], next: Option<&str>) -> TransactionPage {
        TransactionPage {
            items: ids.iter().map(|id| transaction(*id, -100)).collect(),
            next_cursor: next.map(str::to_owned),
        }
    }

    fn ids(history: &History) -> Vec<i64> {
        history.items.iter().map(|t| t.id).collect()
    }

    #[test]
    fn the_newest_page_merges_with_the_cache_without_duplicates() {
        let mut history = History::default();
        merge_page(&mut history, page(&[5, 4, 3], Some("c3")), false);
        merge_page(&mut history, page(&[2, 1], None), true);
        merge_page(&mut history, page(&[7, 6, 5], Some("c5")), false);
        assert_eq!(ids(&history), [7, 6, 5, 4, 3, 2, 1]);
        assert!(history.complete, "the oldest page was already seen");
    }

    #[test]
    fn a_gap_after_a_long_time_offline_is_filled_by_the_next_older_page() {
        let mut history = History::default();
        merge_page(&mut history, page(&[2, 1], None), false);
        merge_page(&mut history, page(&[9, 8, 7], Some("c7")), false);
        assert_eq!(history.next_cursor.as_deref(), Some("c7"));
        merge_page(&mut history, page(&[6, 5, 4, 3], Some("c3")), true);
        merge_page(&mut history, page(&[2, 1], None), true);
        assert_eq!(ids(&history), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert!(history.complete);
    }
}

#[cfg(test)]
mod journey {
    use serde_json::json;

    use crate::app::{
        Event, HistoryView, ScreenView,
        testing::{Phone, answer, transaction},
    };

    fn history(phone: &Phone) -> HistoryView {
        match phone.view().screen {
            ScreenView::History(view) => view,
            other => panic!("expected the history, got {other:?}"),
        }
    }

    #[test]
    fn history_pages_back_newest_first_without_showing_anything_twice() {
        let mut phone = Phone::signed_in();
        phone.send(Event::HistoryOpened);
        let newest = json!({ "items": [transaction(5, -1200), transaction(4, 5000)],
                             "next_cursor": "c4" });
        let sent = phone.respond_to("/api/v1/me/transactions", answer(200, &newest));
        assert!(sent.url.ends_with("?limit=30"), "{}", sent.url);

        let view = history(&phone);
        assert!(view.can_load_more);
        assert_eq!(view.rows[0].title, "みどりベーカリー");
        assert_eq!(view.rows[0].amount, "-¥1,200");
        assert_eq!(view.rows[0].date, "2025年1月1日 14:00");
        assert_eq!(view.rows[1].amount, "+¥5,000");

        phone.send(Event::MoreHistoryRequested);
        let older = json!({ "items": [transaction(4, 5000), transaction(3, -300)] });
        let sent = phone.respond_to("/api/v1/me/transactions", answer(200, &older));
        assert!(sent.url.contains("cursor=c4"), "{}", sent.url);

        let view = history(&phone);
        let ids: Vec<i64> = view.rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, [5, 4, 3]);
        assert!(!view.can_load_more);

        // Offline next time: the history is still there.
        let mut later = Phone::with_cache(phone.cache.clone());
        later.launch();
        later.send(Event::HistoryOpened);
        later.respond_to("/api/v1/me/transactions", crate::app::testing::lost());
        assert_eq!(history(&later).rows.len(), 3);
        assert!(later.view().offline_banner.is_some());
    }
}
