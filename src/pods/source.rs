//! The source pod: one sender actor in a graph of its own, the Aeron ends
//! it uses, and the gauges its progress line reads. It keeps nothing on
//! disk and writes nothing where it runs; the sink tells it everything.

use crate::pods::actor::sender;
use crate::pods::protocol::{Feed, FeedState};
use crate::pods::transport::{Inlet, Lost, Outlet, SetupError, Transport};
use crate::pods::uri::Channels;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steady_state::*;

/// The streams a source uses: it sends data and reads orders.
pub struct SourceEnds {
    pub data: Outlet,
    pub orders: Inlet,
}

/// What the source's progress line and its end read.
#[derive(Debug, Default)]
pub struct SourceGauges {
    stop: AtomicBool,
    /// Values sent by this process.
    sent: AtomicU64,
    /// (next position, credited up to, the sink's durable cut).
    positions: [AtomicU64; 3],
    serving: AtomicBool,
    restarts: AtomicU64,
    state: AtomicU8,
    lost: Mutex<Option<Lost>>,
}

impl SourceGauges {
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn restarted(&self, regeneration: u32) {
        self.restarts
            .store(u64::from(regeneration), Ordering::Relaxed);
    }

    pub fn publish(&self, feed: &Feed) {
        let (next, up_to, committed) = feed.positions();
        for (slot, v) in self.positions.iter().zip([next, up_to, committed]) {
            slot.store(v, Ordering::Relaxed);
        }
        self.serving
            .store(feed.serving().is_some(), Ordering::Relaxed);
    }

    pub fn set_state(&self, state: FeedState) {
        self.state.store(state as u8, Ordering::SeqCst);
    }

    pub fn lose(&self, lost: Lost) {
        let mut slot = self.lost.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(lost);
    }

    /// A reading for the progress line.
    pub fn reading(&self) -> SourceReading {
        let p = |i: usize| self.positions[i].load(Ordering::Relaxed);
        SourceReading {
            sent: self.sent.load(Ordering::Relaxed),
            next: p(0),
            credited: p(1),
            committed: p(2),
            serving: self.serving.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }
}

/// One reading of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceReading {
    pub sent: u64,
    pub next: u64,
    pub credited: u64,
    pub committed: u64,
    pub serving: bool,
    pub restarts: u64,
}

/// How a source's run ended.
#[derive(Debug)]
pub enum SourceEnd {
    /// The sink said the run is done and durable.
    Done,
    /// Stopped by a signal.
    Stopped,
    /// The sink is served by another source.
    Refused,
    Lost(Lost),
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("the source's actor graph did not stop: {0}")]
    Graph(String),
}

/// Connects to the driver at `aeron_dir`, then runs the sender until the
/// run is done, the source is turned away, stopped, or the driver is lost.
pub fn run(
    aeron_dir: &Path,
    channels: &Channels,
    gauges: Arc<SourceGauges>,
    connect_wait: Duration,
) -> Result<SourceEnd, SourceError> {
    let transport = Transport::connect(aeron_dir, connect_wait).map_err(SetupError::from)?;
    let ends = Arc::new(SourceEnds {
        data: transport.publication(&channels.data, channels.data_stream)?,
        orders: transport.subscription(&channels.control, channels.control_stream)?,
    });
    let mut graph = GraphBuilder::for_production()
        .with_telemetry_metric_features(false)
        .build(());
    let state = new_state();
    {
        let (ends, gauges) = (ends.clone(), gauges.clone());
        graph
            .actor_builder()
            .with_name(sender::NAME.as_str())
            .build(
                move |a| sender::run(a, state.clone(), ends.clone(), gauges.clone()),
                SoloAct,
            );
    }
    graph.start();
    graph
        .block_until_stopped(Duration::from_secs(5))
        .map_err(|e| SourceError::Graph(e.to_string()))?;
    if let Some(lost) = gauges.lost.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Ok(SourceEnd::Lost(lost));
    }
    Ok(match gauges.state.load(Ordering::SeqCst) {
        s if s == FeedState::Done as u8 => SourceEnd::Done,
        s if s == FeedState::Refused as u8 => SourceEnd::Refused,
        _ => SourceEnd::Stopped,
    })
}
