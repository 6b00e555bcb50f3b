//! The two pods' protocol as state machines, without a transport: the
//! sink's [`Intake`] and the source's [`Feed`]. A value's identity is its
//! position in the lifetime (value = position, as the generator makes
//! it); the sink's durable cut is a position; the source keeps nothing
//! and regenerates from whatever position it is told.
//!
//! ```text
//!  source                                   sink
//!    │ HELLO(nonce), every 100 ms until served │
//!    ├────────────────────────────────────────▶│ adopts it: epoch e+1
//!    │  ORDER(epoch, from = cut, up to, committed)
//!    │◀────────────────────────────────────────┤ every 100 ms and on change
//!    │ DATA(epoch, first = from, values…)      │
//!    ├────────────────────────────────────────▶│ takes only first = next;
//!    │                     ORDER(up to += room) │ below: duplicates, dropped;
//!    │◀────────────────────────────────────────┤ above: a gap, so epoch e+2
//!    │ …                                        │ and ORDER(from = next)
//!    │                          ORDER(done)    │ after the final commit
//!    │◀────────────────────────────────────────┤
//! ```
//!
//! Nothing is lost: the sink takes only the next position, so its stream
//! has no gap, and after any kill it asks again from its durable cut.
//! Nothing is counted twice: a position below the next one is dropped.

use crate::pods::wire::{DataHeader, Hello, Order, OrderKind};
use std::time::{Duration, Instant};

/// How often the sink repeats its order and a source its HELLO: orders
/// are states, so a lost one costs this long at most.
pub const KEEPALIVE: Duration = Duration::from_millis(100);

/// A source not heard from for this long is gone: another may take over.
pub const SILENCE: Duration = Duration::from_secs(1);

/// A source turned away for this long is a second live source, not one
/// that was started again while the sink still waited for its
/// predecessor's silence: it gives up.
pub const REFUSED_AFTER: Duration = Duration::from_secs(3);

/// What the sink has seen of the link, for progress, metrics and the
/// record (duplicates and restarts of the source are kept in the cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeCounts {
    /// Values at positions the sink had already taken.
    pub duplicates: u64,
    /// Values of another epoch or another source, or beyond a gap.
    pub discarded: u64,
    /// Times the sink asked for the stream again: a new source after the
    /// first one of this launch, or a gap.
    pub resumes: u64,
    /// Frames that could not be read.
    pub bad_frames: u64,
}

struct Served {
    nonce: u64,
    heard: Instant,
}

/// The sink's side: which source it serves, the next position it takes,
/// and the orders it owes.
pub struct Intake {
    sink: u64,
    served: Option<Served>,
    /// Sources seen this launch (the first is a start, the rest resumes).
    adopted: u64,
    epoch: u64,
    next: u64,
    /// The end of the run: the source never needs to go further.
    end: u64,
    granted: u64,
    committed: u64,
    /// An order must go out now (a new epoch, more credit, a refusal).
    owed: Option<Order>,
    last_sent: Option<Instant>,
    counts: IntakeCounts,
}

/// What to do with the values of one DATA frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    /// Take the frame's first values, this many.
    Values(usize),
    Nothing,
}

impl Intake {
    pub fn new(sink: u64, next: u64, end: u64) -> Intake {
        Intake {
            sink,
            served: None,
            adopted: 0,
            epoch: 0,
            next,
            end,
            granted: next,
            committed: next,
            owed: None,
            last_sent: None,
            counts: IntakeCounts::default(),
        }
    }

    pub fn next(&self) -> u64 {
        self.next
    }

    pub fn counts(&self) -> IntakeCounts {
        self.counts
    }

    pub fn source(&self) -> Option<u64> {
        self.served.as_ref().map(|s| s.nonce)
    }

    fn order(&self, kind: OrderKind, source: u64) -> Order {
        Order {
            sink: self.sink,
            source,
            epoch: self.epoch,
            from: self.next,
            up_to: self.granted,
            committed: self.committed,
            kind,
        }
    }

    /// Serves `nonce` from the next position, under a new epoch.
    fn adopt(&mut self, nonce: u64, now: Instant) {
        self.adopted += 1;
        if self.adopted > 1 {
            self.counts.resumes += 1;
        }
        self.served = Some(Served { nonce, heard: now });
        self.resume();
    }

    fn resume(&mut self) {
        self.epoch += 1;
        self.owed = Some(self.order(OrderKind::Send, self.source().unwrap_or(0)));
    }

    fn hear(&mut self, now: Instant) {
        if let Some(s) = &mut self.served {
            s.heard = now;
        }
    }

    fn alive(&self, now: Instant) -> bool {
        self.served
            .as_ref()
            .is_some_and(|s| now.duration_since(s.heard) < SILENCE)
    }

    /// A source that has not been served yet, or one that was and is
    /// still there, says HELLO.
    pub fn on_hello(&mut self, h: Hello, now: Instant) {
        if self.source() == Some(h.source) {
            self.hear(now);
        } else if !self.alive(now) {
            self.adopt(h.source, now);
        } else {
            self.owed = Some(self.order(OrderKind::Busy, h.source));
        }
    }

    /// Which of a DATA frame's values continue the stream; `room` is how
    /// many the caller can take now.
    pub fn on_data(&mut self, h: DataHeader, room: usize, now: Instant) -> Take {
        let count = h.count as u64;
        if self.source() == Some(h.source) {
            self.hear(now);
        } else if !self.alive(now) {
            // A source that served an earlier launch of this sink goes on
            // sending: serve it, from this launch's cut.
            self.adopt(h.source, now);
            self.counts.discarded += count;
            return Take::Nothing;
        } else {
            self.counts.discarded += count;
            self.owed = Some(self.order(OrderKind::Busy, h.source));
            return Take::Nothing;
        }
        if h.epoch != self.epoch {
            self.counts.discarded += count;
            return Take::Nothing;
        }
        let end = h.first.saturating_add(count);
        if h.first > self.next {
            // Something between was lost: ask again from the next position.
            self.counts.discarded += count;
            self.counts.resumes += 1;
            self.resume();
            return Take::Nothing;
        }
        // Within an epoch a source's positions only go up from where it was
        // told to start, so a frame that reaches below the next position
        // means the source is confused: drop it (counting what it repeats)
        // and tell the source again where the stream stands. One resume (a
        // restart of the source, in the record) per such frame keeps the
        // duplicates within what the record's rules allow, whatever a
        // source sends.
        if h.first < self.next {
            self.counts.duplicates += count.min(self.next - h.first);
            self.counts.discarded += end.saturating_sub(self.next);
            self.counts.resumes += 1;
            self.resume();
            return Take::Nothing;
        }
        let take = (end - self.next).min(room as u64);
        if take < end - self.next {
            // More than was granted: the rest comes again after a resume.
            self.counts.discarded += end - self.next - take;
            self.next += take;
            self.counts.resumes += 1;
            self.resume();
        } else {
            self.next += take;
        }
        Take::Values(take as usize)
    }

    /// The stream is taken again from `position` (the receiver restarted
    /// and lost what it had pulled beyond it).
    pub fn resume_from(&mut self, position: u64) {
        self.next = position;
        self.counts.resumes += 1;
        if self.served.is_some() {
            self.resume();
        }
    }

    /// A frame that could not be read.
    pub fn on_bad_frame(&mut self) {
        self.counts.bad_frames += 1;
    }

    /// The newest durable cut (shown to the source, which shows the lag).
    pub fn committed(&mut self, position: u64) {
        self.committed = self.committed.max(position);
    }

    /// The order to send now, if any: one owed, or more credit worth a
    /// frame (`room`: what the sink can take beyond `next`), or the
    /// keepalive.
    pub fn due(&mut self, room: u64, now: Instant) -> Option<Order> {
        // Credit never shrinks: what was granted may already be on its way.
        let up_to = self
            .next
            .saturating_add(room)
            .min(self.end)
            .max(self.granted);
        let more = up_to - self.granted;
        if let Some(mut o) = self.owed.take() {
            if o.kind == OrderKind::Send {
                self.granted = up_to;
                o.up_to = up_to;
            }
            o.committed = self.committed;
            self.last_sent = Some(now);
            return Some(o);
        }
        let source = self.source()?;
        let stale = self
            .last_sent
            .is_none_or(|t| now.duration_since(t) >= KEEPALIVE);
        // Credit goes out in slices worth sending (a quarter of the room,
        // or what is left of the run), not value by value.
        let worth = more > 0 && (more >= room / 4 || up_to == self.end);
        if stale || worth {
            self.granted = up_to;
            self.last_sent = Some(now);
            return Some(self.order(OrderKind::Send, source));
        }
        None
    }
}

/// The source's side: the sink and epoch it serves, where it is and how
/// far it may go. It stores nothing: a restarted source starts from
/// nothing and is told where to begin.
pub struct Feed {
    nonce: u64,
    sink: Option<u64>,
    epoch: u64,
    next: u64,
    up_to: u64,
    committed: u64,
    heard: Option<Instant>,
    said_hello: Option<Instant>,
    sent_at: Option<Instant>,
    /// Turned away (BUSY) since, and not served since.
    refused_since: Option<Instant>,
    pub state: FeedState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FeedState {
    Running,
    /// The sink said the run is done and durable.
    Done,
    /// The sink is served by another source.
    Refused,
}

impl Feed {
    pub fn new(nonce: u64) -> Feed {
        Feed {
            nonce,
            sink: None,
            epoch: 0,
            next: 0,
            up_to: 0,
            committed: 0,
            heard: None,
            said_hello: None,
            sent_at: None,
            refused_since: None,
            state: FeedState::Running,
        }
    }

    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// (next position to send, up to where it may, the sink's cut).
    pub fn positions(&self) -> (u64, u64, u64) {
        (self.next, self.up_to, self.committed)
    }

    pub fn serving(&self) -> Option<u64> {
        self.sink
    }

    pub fn on_order(&mut self, o: Order, now: Instant) {
        // Source 0: every source (the order that ends the run).
        if o.source != self.nonce && !(o.kind == OrderKind::Done && o.source == 0) {
            return;
        }
        match o.kind {
            OrderKind::Busy => {
                if self.sink.is_none() {
                    let since = *self.refused_since.get_or_insert(now);
                    if now.duration_since(since) >= REFUSED_AFTER {
                        self.state = FeedState::Refused;
                    }
                }
                return;
            }
            OrderKind::Done => {
                // Only the sink it serves ends a source: a source started
                // while a sink says its last words is the next sink's.
                if self.sink == Some(o.sink) {
                    self.state = FeedState::Done;
                }
                return;
            }
            OrderKind::Send => {}
        }
        if self.sink != Some(o.sink) || self.epoch != o.epoch {
            self.sink = Some(o.sink);
            self.epoch = o.epoch;
            self.next = o.from;
        }
        self.up_to = o.up_to;
        self.committed = o.committed;
        self.heard = Some(now);
        self.refused_since = None;
    }

    /// The values to send next: (epoch, first, count), at most `max`.
    pub fn next_frame(&self, max: usize) -> Option<(u64, u64, usize)> {
        if self.state != FeedState::Running || self.sink.is_none() || self.next >= self.up_to {
            return None;
        }
        let count = (self.up_to - self.next).min(max as u64) as usize;
        Some((self.epoch, self.next, count))
    }

    pub fn sent(&mut self, count: usize, now: Instant) {
        self.next += count as u64;
        self.sent_at = Some(now);
    }

    /// HELLO is due: no sink serves this source (or none has been heard
    /// for a while), or nothing has been sent for a keepalive period.
    pub fn hello_due(&mut self, now: Instant) -> Option<Hello> {
        let since = |t: Option<Instant>| t.map_or(Duration::MAX, |t| now.duration_since(t));
        let unserved = since(self.heard) >= SILENCE / 2;
        if unserved {
            // The sink is gone (or never came): whoever answers next is
            // the sink, from whatever position it names.
            self.sink = None;
        }
        let quiet = since(self.sent_at) >= KEEPALIVE;
        if self.state == FeedState::Running && quiet && since(self.said_hello) >= KEEPALIVE {
            self.said_hello = Some(now);
            return Some(Hello { source: self.nonce });
        }
        None
    }
}

#[cfg(test)]
mod tests;
