//! Where a sink pod's values come from: the other pod, over a link this
//! layer knows only by what the receiver actor needs of it (the pods
//! layer implements it over Aeron, as durable implements [`CutSink`]).
//!
//! [`CutSink`]: crate::pipeline::CutSink

use std::mem::MaybeUninit;
use std::sync::Mutex;

/// The values a sink holds for its worker: all the credit the source gets.
/// A millisecond or more at full speed (8 MiB), so that the source is not
/// left waiting for credit while an order crosses from one process to the
/// other, and at most this many values are sent again after a resume.
pub const WINDOW: usize = 1 << 20;

/// The link as the receiver actor uses it.
pub trait ValueLink: Send + 'static {
    /// Moves what has arrived into `out`, in order: only values that
    /// continue the stream at the link's next position, at most as many
    /// as the two parts hold. Returns how many were written, from the
    /// start of the first part on.
    fn pull(&mut self, out: [&mut [MaybeUninit<u64>]; 2]) -> Result<usize, LinkLost>;

    /// Lets the other side send `room` values beyond what has been pulled
    /// (credit), tells it the newest durable cut's position, and keeps the
    /// link alive; called on every turn.
    fn tend(&mut self, room: u64, committed: u64) -> Result<(), LinkLost>;

    /// Takes the stream again from `position` (before its next one): what
    /// was pulled beyond it was lost in a restart of the receiver.
    fn resume_from(&mut self, position: u64);

    /// What the link has seen so far (this launch).
    fn report(&self) -> LinkReport;
}

/// The transport under the link is gone (for Aeron: the media driver).
#[derive(Clone, Debug, thiserror::Error)]
#[error("the link to the other pod is lost: {0}")]
pub struct LinkLost(pub String);

/// The link's counters, for progress, metrics and the cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkReport {
    /// The next position the link takes.
    pub next: u64,
    /// Values that arrived a second time, dropped.
    pub duplicates: u64,
    /// Values of an older request or another source, dropped.
    pub discarded: u64,
    /// Times the stream was asked for again: a new source, or a gap.
    pub resumes: u64,
    /// Whether a source is being served now.
    pub serving: bool,
}

/// The link, handed to the receiver actor's state when it first starts
/// (so a restarted receiver keeps it).
pub struct LinkPlan {
    pub handoff: Mutex<Option<Box<dyn ValueLink>>>,
}

impl LinkPlan {
    pub fn new(link: Box<dyn ValueLink>) -> LinkPlan {
        LinkPlan {
            handoff: Mutex::new(Some(link)),
        }
    }
}

/// The link's report as the receiver last published it, for progress,
/// metrics and the logger's cuts (relaxed atomics: advisory but for
/// `duplicates`, which only grows and is read at each cut).
#[derive(Debug, Default)]
pub struct LinkGauges {
    values: [std::sync::atomic::AtomicU64; 4],
    serving: std::sync::atomic::AtomicBool,
}

impl LinkGauges {
    pub fn publish(&self, r: LinkReport) {
        use std::sync::atomic::Ordering::Relaxed;
        for (slot, v) in self
            .values
            .iter()
            .zip([r.next, r.duplicates, r.discarded, r.resumes])
        {
            slot.store(v, Relaxed);
        }
        self.serving.store(r.serving, Relaxed);
    }

    pub fn read(&self) -> LinkReport {
        use std::sync::atomic::Ordering::Relaxed;
        let v = |i: usize| self.values[i].load(Relaxed);
        LinkReport {
            next: v(0),
            duplicates: v(1),
            discarded: v(2),
            resumes: v(3),
            serving: self.serving.load(Relaxed),
        }
    }
}
