//! The store directory: kept on the phone, brought up to date with only what changed since the
//! last sync, and searched offline by name or reading (either kana script) with filters for
//! industry and district.

use crux_core::Command;

use crate::protocol::{Industry, StoreDirectory, StoreSummary, paths};

use super::{
    Event, Internal,
    api::{ApiResult, Call},
    cache,
    effects::{Effect, render},
    internal,
    model::{Directory, Model, Retry, Screen, StoreFilter},
    refresh, text,
};

pub fn open(model: &mut Model) -> Command<Effect, Event> {
    model.screen = Screen::Stores;
    render().and(sync(model))
}

/// Ask for the stores that changed since the last sync (all of them the first time).
pub fn sync(model: &Model) -> Command<Effect, Event> {
    let mut call = Call::get(paths::STORES);
    if let Some(as_of) = model.directory.as_of {
        call = call.query("since", as_of.to_rfc3339());
    }
    call.send(model.connection().as_ref(), |r| {
        internal(Internal::DirectoryFetched(r))
    })
}

pub fn directory_fetched(
    model: &mut Model,
    result: ApiResult<StoreDirectory>,
) -> Command<Effect, Event> {
    match result {
        Ok(changes) => {
            model.offline = false;
            apply(&mut model.directory, changes);
            cache::save(cache::DIRECTORY, &model.directory).and(render())
        }
        Err(error) => refresh::failed(model, &error, Retry::Refresh),
    }
}

/// Stores that stopped taking payments leave the directory; the others are added or replaced.
fn apply(directory: &mut Directory, changes: StoreDirectory) {
    for store in changes.stores {
        if store.accepts_payments {
            directory.stores.insert(store.id, store);
        } else {
            directory.stores.remove(&store.id);
        }
    }
    directory.as_of = Some(changes.as_of);
}

pub fn search(model: &mut Model, query: String) -> Command<Effect, Event> {
    model.store_filter.query = query;
    render()
}

pub fn choose_industry(model: &mut Model, industry: Option<Industry>) -> Command<Effect, Event> {
    model.store_filter.industry = industry;
    render()
}

pub fn choose_district(model: &mut Model, district: Option<String>) -> Command<Effect, Event> {
    model.store_filter.district = district.filter(|d| !d.is_empty());
    render()
}

/// The stores that match the filter, in reading order.
pub fn matching<'a>(directory: &'a Directory, filter: &StoreFilter) -> Vec<&'a StoreSummary> {
    let query = text::search_key(&filter.query);
    let mut found: Vec<&StoreSummary> = directory
        .stores
        .values()
        .filter(|s| filter.industry.is_none_or(|i| s.industry == i))
        .filter(|s| filter.district.as_ref().is_none_or(|d| &s.district == d))
        .filter(|s| query.is_empty() || name_matches(s, &query))
        .collect();
    found.sort_by_cached_key(|s| (text::search_key(&s.kana), s.id));
    found
}

fn name_matches(store: &StoreSummary, query: &str) -> bool {
    text::search_key(&store.name).contains(query) || text::search_key(&store.kana).contains(query)
}

/// The districts residents can filter by: the programme's, or else those the stores are in.
pub fn districts(model: &Model) -> Vec<String> {
    if let Some(programme) = &model.programme {
        return programme.districts.clone();
    }
    let mut districts: Vec<String> = model
        .directory
        .stores
        .values()
        .map(|s| s.district.clone())
        .collect();
    districts.sort();
    districts.dedup();
    districts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testing::{at, store};

    fn directory(stores: Vec<StoreSummary>) -> Directory {
        let mut directory = Directory::default();
        apply(
            &mut directory,
            StoreDirectory {
                stores,
                as_of: at("2025-01-10T00:00:00Z"),
            },
        );
        directory
    }

    fn names(found: &[&StoreSummary]) -> Vec<String> {
        found.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn a_reading_typed_in_hiragana_finds_a_store_listed_in_katakana() {
        let directory = directory(vec![
            store(
                1,
                "みどりベーカリー",
                "ミドリベーカリー",
                Industry::Bakery,
                "大間々町",
            ),
            store(
                2,
                "桐生屋酒店",
                "キリュウヤサケテン",
                Industry::Liquor,
                "笠懸町",
            ),
        ]);
        let filter = StoreFilter {
            query: "きりゅうや".into(),
            ..StoreFilter::default()
        };
        assert_eq!(names(&matching(&directory, &filter)), ["桐生屋酒店"]);
    }

    #[test]
    fn industry_and_district_filters_combine() {
        let directory = directory(vec![
            store(
                1,
                "大間々ベーカリー",
                "オオママベーカリー",
                Industry::Bakery,
                "大間々町",
            ),
            store(
                2,
                "笠懸ベーカリー",
                "カサカケベーカリー",
                Industry::Bakery,
                "笠懸町",
            ),
            store(
                3,
                "大間々食堂",
                "オオママショクドウ",
                Industry::Restaurant,
                "大間々町",
            ),
        ]);
        let filter = StoreFilter {
            query: String::new(),
            industry: Some(Industry::Bakery),
            district: Some("大間々町".into()),
        };
        assert_eq!(names(&matching(&directory, &filter)), ["大間々ベーカリー"]);
    }

    #[test]
    fn a_store_that_stops_taking_payments_leaves_the_directory() {
        let mut directory = directory(vec![store(
            1,
            "みどり商店",
            "ミドリショウテン",
            Industry::Other,
            "東町",
        )]);
        let mut suspended = store(1, "みどり商店", "ミドリショウテン", Industry::Other, "東町");
        suspended.accepts_payments = false;
        apply(
            &mut directory,
            StoreDirectory {
                stores: vec![suspended],
                as_of: at("2025-01-11T00:00:00Z"),
            },
        );
        assert!(directory.stores.is_empty());
        assert_eq!(directory.as_of, Some(at("2025-01-11T00:00:00Z")));
    }
}

#[cfg(test)]
mod journey {
    use crate::{
        app::{
            Event, ScreenView, StoresView,
            testing::{Phone, bakery, lost},
        },
        protocol::Industry,
    };

    fn stores(phone: &Phone) -> StoresView {
        match phone.view().screen {
            ScreenView::Stores(view) => view,
            other => panic!("expected the store directory, got {other:?}"),
        }
    }

    #[test]
    fn the_directory_is_searched_offline_by_reading_and_filtered_by_district() {
        let mut phone = Phone::signed_in();
        phone.send(Event::StoresOpened);
        phone.respond_to("/api/v1/stores", lost());
        assert_eq!(stores(&phone).summary, "1件のお店");

        phone.send(Event::StoreSearchTyped("ベーカリー".into()));
        let view = stores(&phone);
        assert_eq!(view.stores.len(), 1);
        assert_eq!(view.stores[0].name, bakery().name);
        assert_eq!(view.stores[0].industry, "パン・菓子");
        assert_eq!(view.industries.len(), Industry::ALL.len());

        phone.send(Event::DistrictChosen(Some("笠懸町".into())));
        let view = stores(&phone);
        assert!(view.stores.is_empty());
        assert!(
            view.districts
                .iter()
                .any(|d| d.value == "笠懸町" && d.selected)
        );
    }
}
