//! Sender (source pod): the generator of a source pod. It follows the
//! sink's orders ([`Feed`]): generates the values from the position it is
//! told, as far as it is credited, many per Aeron message, and offers them
//! on the data stream; until a sink serves it, and whenever it has nothing
//! to send, it says HELLO. Under back pressure it naps (never spins); it
//! stops when the sink says the run is done, when it is turned away, on a
//! stop, or when the media driver is gone.

use crate::pipeline::names::ActorName;
use crate::pods::protocol::{Feed, FeedState};
use crate::pods::source::{SourceEnds, SourceGauges};
use crate::pods::transport::Offered;
use crate::pods::wire::{self, DATA_HEADER_LEN, Frame, MAX_VALUES};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// This actor's name (its telemetry label).
pub const NAME: ActorName = ActorName::new("sender");

/// Messages offered per turn before the orders are polled again.
const FRAMES_PER_TURN: usize = 64;

/// The longest nap between turns with nothing to do.
const LONGEST_NAP: Duration = Duration::from_millis(1);

pub struct SenderState {
    pub feed: Feed,
}

pub async fn run(
    actor: SteadyActorShadow,
    state: SteadyState<SenderState>,
    ends: Arc<SourceEnds>,
    gauges: Arc<SourceGauges>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([], []);
    internal_behavior(actor, state, ends, gauges).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    state: SteadyState<SenderState>,
    ends: Arc<SourceEnds>,
    gauges: Arc<SourceGauges>,
) -> Result<(), Box<dyn Error>> {
    gauges.restarted(actor.regeneration());
    let mut state = state
        .lock(|| SenderState {
            feed: Feed::new(fastrand::u64(1..)),
        })
        .await;
    let per_frame = ((ends.data.max_payload() - DATA_HEADER_LEN) / 8).min(MAX_VALUES);
    let mut buf = Vec::with_capacity(DATA_HEADER_LEN + 8 * per_frame);
    let mut nap = Duration::ZERO;

    while actor.is_running(|| true) {
        if gauges.stop_requested() || state.feed.state != FeedState::Running {
            gauges.set_state(state.feed.state);
            actor.request_shutdown().await;
            actor.wait_shutdown().await;
            continue;
        }
        let now = Instant::now();
        let feed = &mut state.feed;
        let polled = ends.orders.poll(16, |bytes| {
            if let Ok(Frame::Order(o)) = wire::decode(bytes) {
                feed.on_order(o, now);
            }
        });
        let mut sent_any = false;
        let turn = (|| {
            polled?;
            if let Some(h) = feed.hello_due(now) {
                ends.data.offer(&mut wire::hello(h))?;
            }
            for _ in 0..FRAMES_PER_TURN {
                let Some((epoch, first, count)) = feed.next_frame(per_frame) else {
                    break;
                };
                wire::data(&mut buf, feed.nonce(), epoch, first, count);
                match ends.data.offer(&mut buf)? {
                    Offered::Sent => {
                        feed.sent(count, now);
                        gauges.sent(count);
                        sent_any = true;
                    }
                    Offered::NotNow => break,
                }
            }
            Ok(())
        })();
        gauges.publish(feed);
        if let Err(lost) = turn {
            gauges.lose(lost);
            actor.request_shutdown().await;
            actor.wait_shutdown().await;
            continue;
        }
        if sent_any {
            nap = Duration::ZERO;
        } else {
            // Nothing credited, or the sink is behind (back pressure): wait
            // a little, a little longer each time.
            nap = (nap * 2).clamp(Duration::from_micros(20), LONGEST_NAP);
            std::thread::sleep(nap);
        }
    }
    Ok(())
}
