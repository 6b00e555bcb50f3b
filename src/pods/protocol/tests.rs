//! Unit tests of the protocol state machines.

use super::*;

fn data(source: u64, epoch: u64, first: u64, count: u32) -> DataHeader {
    DataHeader {
        source,
        epoch,
        first,
        count,
    }
}

/// A sink at position 100 (its cut), room 1000, run ending at 5000,
/// serving source 7.
fn serving() -> (Intake, Instant) {
    let t = Instant::now();
    let mut i = Intake::new(1, 100, 5000);
    i.on_hello(Hello { source: 7 }, t);
    let o = i.due(1000, t).expect("an order to the new source");
    assert_eq!((o.source, o.epoch, o.from, o.up_to), (7, 1, 100, 1100));
    (i, t)
}

#[test]
fn the_sink_takes_only_the_next_position() {
    let (mut i, t) = serving();
    assert_eq!(i.on_data(data(7, 1, 100, 50), 1000, t), Take::Values(50));
    assert_eq!(i.next(), 150);
    // A frame reaching below what was taken: dropped, its repeats
    // counted, and the source told again where the stream stands.
    assert_eq!(i.on_data(data(7, 1, 140, 20), 1000, t), Take::Nothing);
    let o = i.due(1000, t).expect("a resume");
    assert_eq!((o.epoch, o.from), (2, 150));
    assert_eq!(i.on_data(data(7, 2, 100, 50), 1000, t), Take::Nothing);
    assert_eq!(i.counts().duplicates, 10 + 50);
    assert_eq!(i.counts().resumes, 2, "one per frame of duplicates");
    assert_eq!(i.next(), 150);
    let o = i.due(1000, t).expect("a resume");
    assert_eq!(
        i.on_data(data(7, o.epoch, 150, 10), 1000, t),
        Take::Values(10)
    );
}

#[test]
fn a_gap_asks_again_from_the_next_position_under_a_new_epoch() {
    let (mut i, t) = serving();
    assert_eq!(i.on_data(data(7, 1, 200, 10), 1000, t), Take::Nothing);
    let o = i.due(1000, t).expect("a resume");
    assert_eq!((o.epoch, o.from), (2, 100));
    assert_eq!(i.counts().resumes, 1);
    // Frames sent before the source heard it are of the old epoch.
    assert_eq!(i.on_data(data(7, 1, 100, 10), 1000, t), Take::Nothing);
    assert_eq!(i.on_data(data(7, 2, 100, 10), 1000, t), Take::Values(10));
}

#[test]
fn a_second_live_source_is_turned_away_and_a_silent_one_replaced() {
    let (mut i, t) = serving();
    i.on_hello(Hello { source: 8 }, t);
    let o = i.due(1000, t).expect("a refusal");
    assert_eq!((o.kind, o.source), (OrderKind::Busy, 8));
    assert_eq!(i.on_data(data(8, 1, 100, 10), 1000, t), Take::Nothing);
    assert_eq!(i.source(), Some(7));
    let later = t + SILENCE;
    i.on_hello(Hello { source: 8 }, later);
    let o = i.due(1000, later).expect("the new source's order");
    assert_eq!(
        (o.kind, o.source, o.epoch, o.from),
        (OrderKind::Send, 8, 2, 100)
    );
    assert_eq!(i.counts().resumes, 1, "a second source is a resume");
}

#[test]
fn credit_goes_out_in_slices_and_never_past_the_end() {
    let (mut i, t) = serving();
    assert_eq!(i.on_data(data(7, 1, 100, 100), 1000, t), Take::Values(100));
    // 100 more would be granted: not worth an order yet.
    assert_eq!(i.due(1000, t), None);
    assert_eq!(i.on_data(data(7, 1, 200, 300), 1000, t), Take::Values(300));
    let o = i.due(1000, t).expect("a slice worth sending");
    assert_eq!(o.up_to, 1500);
    let o = i.due(1_000_000, t).expect("all that is left");
    assert_eq!(o.up_to, 5000);
    // The keepalive repeats the order.
    assert!(i.due(1_000_000, t).is_none());
    assert_eq!(i.due(1_000_000, t + KEEPALIVE).map(|o| o.up_to), Some(5000));
}

#[test]
fn more_than_the_room_is_cut_and_asked_for_again() {
    let (mut i, t) = serving();
    assert_eq!(i.on_data(data(7, 1, 100, 50), 20, t), Take::Values(20));
    let o = i.due(1000, t).expect("a resume");
    assert_eq!((o.epoch, o.from), (2, 120));
}

#[test]
fn a_source_left_by_an_earlier_launch_is_served_from_the_cut() {
    let t = Instant::now();
    let mut i = Intake::new(2, 100, 5000);
    // It is still sending what the dead sink had granted.
    assert_eq!(i.on_data(data(7, 3, 900, 10), 1000, t), Take::Nothing);
    let o = i.due(1000, t).expect("an order");
    assert_eq!((o.source, o.epoch, o.from), (7, 1, 100));
    assert_eq!(
        i.counts().resumes,
        0,
        "the first source of a launch is its start"
    );
}

#[test]
fn the_source_follows_orders_and_regenerates_from_where_it_is_told() {
    let t = Instant::now();
    let mut f = Feed::new(7);
    assert_eq!(f.hello_due(t), Some(Hello { source: 7 }));
    assert_eq!(f.next_frame(1000), None, "nothing before a sink answers");
    let order = |epoch, from, up_to| Order {
        sink: 1,
        source: 7,
        epoch,
        from,
        up_to,
        committed: 0,
        kind: OrderKind::Send,
    };
    f.on_order(order(1, 100, 300), t);
    assert_eq!(f.next_frame(150), Some((1, 100, 150)));
    f.sent(150, t);
    assert_eq!(f.next_frame(150), Some((1, 250, 50)));
    f.sent(50, t);
    assert_eq!(f.next_frame(150), None, "credit spent");
    // The same order again changes nothing; more credit is used.
    f.on_order(order(1, 100, 400), t);
    assert_eq!(f.next_frame(1000), Some((1, 300, 100)));
    // A new epoch starts again where it says.
    f.on_order(order(2, 120, 400), t);
    assert_eq!(f.next_frame(1000), Some((2, 120, 280)));
    // Orders to another source are not ours.
    f.on_order(
        Order {
            source: 8,
            ..order(3, 0, 10)
        },
        t,
    );
    assert_eq!(f.next_frame(1000), Some((2, 120, 280)));
}

#[test]
fn the_source_ends_on_done_and_gives_way_when_refused_for_long() {
    let t = Instant::now();
    let mut f = Feed::new(7);
    let busy = Order {
        sink: 1,
        source: 7,
        epoch: 0,
        from: 0,
        up_to: 0,
        committed: 0,
        kind: OrderKind::Busy,
    };
    // Its predecessor may only just have died: it tries for a while.
    f.on_order(busy, t);
    assert_eq!(f.state, FeedState::Running);
    f.on_order(busy, t + REFUSED_AFTER / 2);
    assert_eq!(f.state, FeedState::Running);
    f.on_order(busy, t + REFUSED_AFTER);
    assert_eq!(f.state, FeedState::Refused);
    // The end of a run ends the source that served it, not one that
    // came too late for it.
    let done = Order {
        kind: OrderKind::Done,
        source: 0,
        ..busy
    };
    let mut f = Feed::new(7);
    f.on_order(done, t);
    assert_eq!(f.state, FeedState::Running);
    let send = Order {
        kind: OrderKind::Send,
        epoch: 1,
        ..busy
    };
    f.on_order(send, t);
    f.on_order(done, t);
    assert_eq!(f.state, FeedState::Done);
}

#[test]
fn a_source_whose_sink_went_quiet_says_hello_again() {
    let t = Instant::now();
    let mut f = Feed::new(7);
    f.on_order(
        Order {
            sink: 1,
            source: 7,
            epoch: 1,
            from: 0,
            up_to: 10,
            committed: 0,
            kind: OrderKind::Send,
        },
        t,
    );
    f.sent(10, t);
    assert_eq!(
        f.hello_due(t + KEEPALIVE),
        Some(Hello { source: 7 }),
        "a keepalive"
    );
    assert_eq!(f.serving(), Some(1));
    assert!(f.hello_due(t + SILENCE).is_some());
    assert_eq!(f.serving(), None, "the sink is gone");
}
