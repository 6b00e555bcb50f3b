//! The sink pod's Aeron side: its streams, the lock that keeps a second
//! sink off the same streams, the link the receiver actor gets, and the
//! order that ends the run.

use crate::pipeline::ValueLink;
use crate::pods::protocol::Intake;
use crate::pods::sink_link::{SinkLink, send};
use crate::pods::transport::{Inlet, Lost, Outlet, SetupError, Transport};
use crate::pods::uri::Channels;
use crate::pods::wire::{Order, OrderKind};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the sink repeats the order that ends the run: long enough for
/// a source that is there to hear it several times over.
const DONE_FOR: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(
        "another sink already takes stream {stream} of {channel} on the media driver at {}",
        dir.display()
    )]
    StreamTaken {
        dir: PathBuf,
        channel: String,
        stream: i32,
    },
    #[error("cannot claim the sink's stream ({name}): {source}")]
    Lock {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// A sink's streams, ready for a launch.
pub struct SinkSetup {
    data: Option<Inlet>,
    orders: Arc<Outlet>,
    nonce: u64,
    _claim: [UnixListener; 2],
    _transport: Arc<Transport>,
}

/// Takes the sink's place on `channels` with the driver at `aeron_dir`
/// (waiting up to `connect_wait` for the driver to be there).
pub fn prepare(
    aeron_dir: &Path,
    channels: &Channels,
    connect_wait: Duration,
) -> Result<SinkSetup, SinkError> {
    let transport = Transport::connect(aeron_dir, connect_wait).map_err(SetupError::from)?;
    let lock = stream_lock(aeron_dir, channels)?;
    let data = transport.subscription(&channels.data, channels.data_stream)?;
    let orders = transport.publication(&channels.control, channels.control_stream)?;
    Ok(SinkSetup {
        data: Some(data),
        orders: Arc::new(orders),
        nonce: fastrand::u64(1..),
        _claim: lock,
        _transport: transport,
    })
}

/// One sink per stream on a driver, for its data stream and its control
/// stream both (a sink on the next stream id would share the first one's
/// control stream). Each claim is an abstract Unix socket named for the
/// driver's dir and the stream as the driver tells streams apart: the
/// kernel frees it when the process dies, however it dies, and it leaves
/// no file behind (a file in the driver's dir would make it someone
/// else's dir to the next driver, see driver.rs).
fn stream_lock(aeron_dir: &Path, channels: &Channels) -> Result<[UnixListener; 2], SinkError> {
    let [data, control] = channels.keys();
    let first = claim(aeron_dir, channels, &data, channels.data_stream)?;
    let second = claim(aeron_dir, channels, &control, channels.control_stream)?;
    Ok([first, second])
}

fn claim(
    aeron_dir: &Path,
    channels: &Channels,
    stream_key: &str,
    stream: i32,
) -> Result<UnixListener, SinkError> {
    use std::os::linux::net::SocketAddrExt;
    let dir = std::fs::canonicalize(aeron_dir).unwrap_or_else(|_| aeron_dir.to_path_buf());
    let mut key = dir.as_os_str().as_encoded_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(stream_key.as_bytes());
    let name = format!("fizzflow-sink-{:08x}", crc32fast::hash(&key));
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).map_err(|source| {
            SinkError::Lock {
                name: name.clone(),
                source,
            }
        })?;
    UnixListener::bind_addr(&addr).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            SinkError::StreamTaken {
                dir: aeron_dir.to_path_buf(),
                channel: channels.data.clone(),
                stream,
            }
        } else {
            SinkError::Lock { name, source: e }
        }
    })
}

impl SinkSetup {
    /// The receiver's link for a launch that takes the stream from `next`
    /// and ends at `end` (both positions).
    pub fn link(&mut self, next: u64, end: u64) -> Box<dyn ValueLink> {
        let data = self.data.take().expect("one link per launch");
        Box::new(SinkLink::new(
            Intake::new(self.nonce, next, end),
            data,
            self.orders.clone(),
        ))
    }

    /// Tells the source the run is done and durable: it may exit.
    pub fn done(&self, position: u64) -> Result<(), Lost> {
        let order = Order {
            sink: self.nonce,
            source: 0,
            epoch: 0,
            from: position,
            up_to: position,
            committed: position,
            kind: OrderKind::Done,
        };
        let until = Instant::now() + DONE_FOR;
        while Instant::now() < until {
            send(&self.orders, &order)?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}
