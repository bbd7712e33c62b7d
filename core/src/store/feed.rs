//! The live feed: payments and refunds at the store as they land, shown the moment they
//! arrive (「¥1,200 受け取りました」).
//!
//! One subscription at a time, numbered by `generation`; answers of an older one are ignored.
//! After a drop the app waits (1 s, doubling up to 30 s) and subscribes again; on every
//! (re)connection and every `resync` it reloads today's sales, which covers anything that
//! landed while it was away. Each payment and refund is listed once, however often it arrives.

use crux_core::Command;

use crate::app::TimerRequest;
use crate::protocol::{StorePaymentEvent, paths};

use super::{
    Event, Internal,
    effects::{Effect, FeedRequest, FeedUpdate},
    internal,
    model::{FeedHandle, Model},
    render, sales, session,
};

const FIRST_RECONNECT_MS: u64 = 1_000;
const MAX_RECONNECT_MS: u64 = 30_000;
/// The feed keeps this many lines; today's sales hold the rest.
const KEEP: usize = 100;

/// Open a new subscription, replacing any earlier one.
pub fn subscribe(model: &mut Model) -> Command<Effect, Event> {
    let (Some(connection), Some(session)) = (model.connection(), &model.session) else {
        return Command::done();
    };
    let Ok(url) = connection.base.join(paths::STORE_PAYMENTS_STREAM) else {
        return Command::done();
    };
    if let Some(old) = model.feed.handle.take() {
        old.0.abort();
    }
    model.feed.generation += 1;
    model.feed.live = false;
    let generation = model.feed.generation;
    let command = Command::stream_from_shell(FeedRequest {
        url: url.to_string(),
        token: session.token.clone(),
    })
    .then_send(move |update| internal(Internal::Feed { generation, update }));
    model.feed.handle = Some(FeedHandle(command.abort_handle()));
    command
}

pub fn updated(model: &mut Model, generation: u64, update: FeedUpdate) -> Command<Effect, Event> {
    if generation != model.feed.generation || !model.signed_in() {
        return Command::done();
    }
    match update {
        FeedUpdate::Connected => {
            model.feed.live = true;
            model.feed.failures = 0;
            render().and(sales::fetch_today(model))
        }
        FeedUpdate::Received(event) => received(model, event),
        FeedUpdate::Resync => sales::fetch_today(model),
        FeedUpdate::Refused { status: 401 } => session::signed_out(model),
        FeedUpdate::Refused { .. } | FeedUpdate::Dropped { .. } => dropped(model),
    }
}

fn received(model: &mut Model, event: StorePaymentEvent) -> Command<Effect, Event> {
    let fresh = remember(model, event);
    if !fresh {
        return Command::done();
    }
    render().and(sales::fetch_today(model))
}

/// Add `event` to the feed unless it is there already; newest first. True when it was new.
pub fn remember(model: &mut Model, event: StorePaymentEvent) -> bool {
    let same = |e: &StorePaymentEvent| {
        e.kind == event.kind && e.payment_id == event.payment_id && e.refund_id == event.refund_id
    };
    if model.feed.events.iter().any(same) {
        return false;
    }
    let at = model
        .feed
        .events
        .iter()
        .position(|e| e.created_at <= event.created_at)
        .unwrap_or(model.feed.events.len());
    model.feed.events.insert(at, event);
    model.feed.events.truncate(KEEP);
    true
}

fn dropped(model: &mut Model) -> Command<Effect, Event> {
    model.feed.handle = None;
    model.feed.live = false;
    let doublings = model.feed.failures.min(5);
    model.feed.failures += 1;
    let wait = (FIRST_RECONNECT_MS << doublings).min(MAX_RECONNECT_MS);
    let generation = model.feed.generation;
    render().and(
        Command::request_from_shell(TimerRequest { millis: wait })
            .then_send(move |()| internal(Internal::FeedReconnectDue { generation })),
    )
}

pub fn reconnect_due(model: &mut Model, generation: u64) -> Command<Effect, Event> {
    if generation != model.feed.generation || !model.signed_in() || model.feed.handle.is_some() {
        return Command::done();
    }
    subscribe(model)
}

#[cfg(test)]
mod tests {
    use crate::store::{
        ScreenView, TillView,
        testing::{Till, answer_json, feed_event, sales},
    };

    use super::*;

    const SALES: &str = "/api/v1/store/payments";

    fn till_view(till: &Till) -> TillView {
        match till.view().screen {
            ScreenView::Till(view) => view,
            other => panic!("expected the till, got {other:?}"),
        }
    }

    fn lines(till: &Till) -> Vec<String> {
        till_view(till)
            .feed
            .into_iter()
            .map(|l| l.message)
            .collect()
    }

    #[test]
    fn a_payment_is_shown_the_moment_it_arrives_and_only_once() {
        let mut till = Till::signed_in();
        let mut feed = till.take_feed();
        till.resolve(&mut feed, FeedUpdate::Connected);
        till.respond_to(SALES, answer_json(200, &sales(&[])));
        assert_eq!(till_view(&till).feed_note, None);

        till.resolve(&mut feed, FeedUpdate::Received(feed_event(501, 1200)));
        assert_eq!(lines(&till), ["¥1,200 受け取りました"]);
        till.resolve(&mut feed, FeedUpdate::Received(feed_event(501, 1200)));
        assert_eq!(lines(&till), ["¥1,200 受け取りました"]);
        // Today's figures follow from the server.
        till.respond_to(SALES, answer_json(200, &sales(&[(501, 1200, 0)])));
        assert_eq!(lines(&till), ["¥1,200 受け取りました"]);
        assert_eq!(till_view(&till).today.summary, "本日 1件 ¥1,200");
    }

    #[test]
    fn after_a_drop_the_feed_reconnects_catches_up_and_lists_nothing_twice() {
        let mut till = Till::signed_in();
        let mut first = till.take_feed();
        till.resolve(&mut first, FeedUpdate::Connected);
        till.respond_to(SALES, answer_json(200, &sales(&[])));
        till.resolve(&mut first, FeedUpdate::Received(feed_event(501, 1200)));
        till.respond_to(SALES, answer_json(200, &sales(&[(501, 1200, 0)])));

        till.resolve(
            &mut first,
            FeedUpdate::Dropped {
                reason: "reset".into(),
            },
        );
        assert_eq!(
            till_view(&till).feed_note.as_deref(),
            Some(crate::store::messages::FEED_RECONNECTING)
        );
        let mut wait = till.take_timer();
        assert_eq!(wait.operation.millis, 1_000);
        till.resolve(&mut wait, ());
        let mut second = till.take_feed();
        // A late answer of the old stream is ignored.
        let _ = till.try_resolve(&mut first, FeedUpdate::Received(feed_event(777, 5)));
        till.resolve(&mut second, FeedUpdate::Connected);
        // ¥800 landed while the feed was away; the reload brings it, once.
        till.respond_to(
            SALES,
            answer_json(200, &sales(&[(502, 800, 0), (501, 1200, 0)])),
        );
        till.resolve(&mut second, FeedUpdate::Received(feed_event(502, 800)));
        assert_eq!(
            lines(&till),
            ["¥800 受け取りました", "¥1,200 受け取りました"]
        );
        assert_eq!(till_view(&till).feed_note, None);
    }

    #[test]
    fn repeated_drops_wait_longer_each_time() {
        let mut till = Till::signed_in();
        let mut waits = Vec::new();
        for _ in 0..3 {
            let mut feed = till.take_feed();
            till.resolve(
                &mut feed,
                FeedUpdate::Dropped {
                    reason: "down".into(),
                },
            );
            let mut timer = till.take_timer();
            waits.push(timer.operation.millis);
            till.resolve(&mut timer, ());
        }
        assert_eq!(waits, [1_000, 2_000, 4_000]);
    }

    #[test]
    fn a_feed_refused_as_signed_out_signs_the_till_out() {
        let mut till = Till::signed_in();
        let mut feed = till.take_feed();
        till.resolve(&mut feed, FeedUpdate::Refused { status: 401 });
        assert_eq!(till.view().screen, ScreenView::Login { busy: false });
    }
}
