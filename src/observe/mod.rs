//! What a person or a scraper sees of a run while it goes: the progress
//! bar and line, readings from /proc, and the Prometheus endpoint.

pub(crate) mod bar;
pub(crate) mod exposition;
pub(crate) mod graph_page;
pub(crate) mod metrics;
pub(crate) mod procfs;
pub(crate) mod progress;
pub(crate) mod reading;
pub(crate) mod reflow;
pub(crate) mod status;

pub use procfs::ProcSample;
