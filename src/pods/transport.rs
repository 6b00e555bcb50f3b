//! The Aeron client under the pods, on the `aeron` crate: one client per
//! process, and the publications and subscriptions the pods use, kept
//! behind the client's own `Arc`s (the client only keeps weak references:
//! steady_state's aqueduct drops them, and so never sees a publisher that
//! comes later; see docs/upstream/steady_state-aeron.md).
//!
//! A lost media driver is not an error of one call: the client's conductor
//! reports it to the error handler, which records it here, and every call
//! after that says [`Lost`].

use aeron::aeron::Aeron;
use aeron::concurrent::atomic_buffer::AtomicBuffer;
use aeron::context::Context;
use aeron::publication::Publication;
use aeron::subscription::Subscription;
use aeron::utils::errors::AeronError;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the client waits for a driver that does not answer: three
/// seconds, not Aeron's ten, so that a pod whose driver died says so soon
/// (the driver's own client liveness timeout is set to match, driver.rs).
pub const DRIVER_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a registration may wait for a driver that does not answer.
const REGISTRATION_LIMIT: Duration = Duration::from_secs(15);

/// The driver went away (or never answered): what the client said.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the media driver at {dir} {why}")]
pub struct Lost {
    pub dir: PathBuf,
    pub why: String,
}

/// What could not be set up with a driver that is there.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Lost(#[from] Lost),
    #[error("Aeron refused {what} on {channel} stream {stream}: {problem}")]
    Refused {
        what: &'static str,
        channel: String,
        stream: i32,
        problem: String,
    },
}

/// The client and what it has heard of its driver.
pub struct Transport {
    aeron: Mutex<Aeron>,
    dir: PathBuf,
    lost: Arc<Mutex<Option<String>>>,
}

impl Transport {
    /// Connects to the driver whose dir is `dir`, waiting up to `wait` for
    /// one to appear there.
    pub fn connect(dir: &Path, wait: Duration) -> Result<Arc<Transport>, Lost> {
        let lost: Arc<Mutex<Option<String>>> = Arc::default();
        let deadline = Instant::now() + wait;
        loop {
            let mut ctx = Context::new();
            ctx.set_aeron_dir(dir.to_string_lossy().into_owned());
            ctx.set_media_driver_timeout(DRIVER_TIMEOUT.as_millis() as u64);
            let heard = lost.clone();
            ctx.set_error_handler(move |e: AeronError| {
                // Only the driver's silence ends the link; other errors are
                // about one registration and come back from its call.
                if matches!(
                    e,
                    AeronError::DriverTimeout(_) | AeronError::ClientTimeoutException
                ) {
                    let mut slot = heard.lock().unwrap_or_else(|p| p.into_inner());
                    slot.get_or_insert_with(|| e.to_string());
                }
            });
            match Aeron::new(ctx) {
                Ok(aeron) => {
                    return Ok(Arc::new(Transport {
                        aeron: Mutex::new(aeron),
                        dir: dir.to_path_buf(),
                        lost,
                    }));
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(Lost {
                        dir: dir.to_path_buf(),
                        why: format!("is not running ({e}); start one with `fizzflow driver`"),
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The driver is gone, if the client has said so.
    pub fn lost(&self) -> Option<Lost> {
        let why = self
            .lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Some(Lost {
            dir: self.dir.clone(),
            why: format!("stopped answering ({why})"),
        })
    }

    fn check(&self) -> Result<(), Lost> {
        self.lost().map_or(Ok(()), Err)
    }

    fn refused(what: &'static str, channel: &str, stream: i32, e: AeronError) -> SetupError {
        SetupError::Refused {
            what,
            channel: channel.to_string(),
            stream,
            problem: e.to_string(),
        }
    }

    /// A publication on `channel`, `stream`, once the driver has made it.
    pub fn publication(self: &Arc<Self>, channel: &str, stream: i32) -> Result<Outlet, SetupError> {
        let publication = self.register(channel, stream, "a publication", |a, c| {
            let id = a.add_publication(c, stream)?;
            Ok(move |a: &mut Aeron| a.find_publication(id))
        })?;
        Ok(Outlet {
            publication,
            transport: self.clone(),
        })
    }

    /// A subscription to `channel`, `stream`, once the driver has made it.
    pub fn subscription(self: &Arc<Self>, channel: &str, stream: i32) -> Result<Inlet, SetupError> {
        let subscription = self.register(channel, stream, "a subscription", |a, c| {
            let id = a.add_subscription(c, stream)?;
            Ok(move |a: &mut Aeron| a.find_subscription(id))
        })?;
        Ok(Inlet {
            subscription,
            transport: self.clone(),
        })
    }

    /// Asks the driver for a registration (`add`) and waits for it. A
    /// driver that does not answer in time (one that has just started, on
    /// a loaded machine) is asked again, up to [`REGISTRATION_LIMIT`]; after
    /// that it counts as gone.
    fn register<T, F>(
        &self,
        channel: &str,
        stream: i32,
        what: &'static str,
        add: impl Fn(&mut Aeron, CString) -> Result<F, AeronError>,
    ) -> Result<T, SetupError>
    where
        F: FnMut(&mut Aeron) -> Result<T, AeronError>,
    {
        let deadline = Instant::now() + REGISTRATION_LIMIT;
        loop {
            self.check()?;
            let c = CString::new(channel).expect("URIs hold no NUL");
            let mut find =
                add(&mut self.aeron(), c).map_err(|e| Self::refused(what, channel, stream, e))?;
            let found = loop {
                self.check()?;
                match find(&mut self.aeron()) {
                    Err(
                        AeronError::PublicationNotReady(_) | AeronError::SubscriptionNotReady(_),
                    ) => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    other => break other,
                }
            };
            match found {
                Ok(found) => return Ok(found),
                Err(AeronError::DriverTimeout(_)) if Instant::now() < deadline => {}
                Err(AeronError::DriverTimeout(e)) => {
                    return Err(SetupError::Lost(Lost {
                        dir: self.dir.clone(),
                        why: format!("did not answer ({e})"),
                    }));
                }
                Err(e) => return Err(Self::refused(what, channel, stream, e)),
            }
        }
    }

    fn aeron(&self) -> std::sync::MutexGuard<'_, Aeron> {
        self.aeron.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How an offer went.
#[derive(Debug, PartialEq, Eq)]
pub enum Offered {
    Sent,
    /// Not now: nobody listens yet, or the receiver is behind (back
    /// pressure). Try again later.
    NotNow,
}

/// Sending side of a stream.
pub struct Outlet {
    publication: Arc<Mutex<Publication>>,
    transport: Arc<Transport>,
}

impl Outlet {
    /// Offers one message (at most the publication's payload length).
    pub fn offer(&self, bytes: &mut [u8]) -> Result<Offered, Lost> {
        self.transport.check()?;
        let publication = self.publication.lock().unwrap_or_else(|p| p.into_inner());
        match publication.offer(AtomicBuffer::wrap_slice(bytes)) {
            Ok(_) => Ok(Offered::Sent),
            Err(AeronError::NotConnected | AeronError::BackPressured | AeronError::AdminAction) => {
                Ok(Offered::NotNow)
            }
            Err(e) => Err(Lost {
                dir: self.transport.dir.clone(),
                why: format!("closed the publication ({e})"),
            }),
        }
    }

    /// The largest message `offer` takes in one frame.
    pub fn max_payload(&self) -> usize {
        let publication = self.publication.lock().unwrap_or_else(|p| p.into_inner());
        publication.max_payload_length() as usize
    }
}

/// Receiving side of a stream.
pub struct Inlet {
    subscription: Arc<Mutex<Subscription>>,
    transport: Arc<Transport>,
}

/// aeron 0.2's `Subscription::drop` takes its image list a second time
/// when the client conductor already took it (it closes the subscription
/// once the driver has timed this client out, e.g. after a 5 s SIGSTOP),
/// and `AtomicVec::take` then spins for ever: a pod that should exit 5
/// hung at 80% CPU, deaf to SIGTERM. So a subscription is never dropped;
/// it goes with the process, which ends soon after its inlet does, and the
/// driver releases it as it does a killed pod's.
impl Drop for Inlet {
    fn drop(&mut self) {
        std::mem::forget(self.subscription.clone());
    }
}

impl Inlet {
    /// Hands up to `limit` frames that have arrived to `each`.
    pub fn poll(&self, limit: i32, mut each: impl FnMut(&[u8])) -> Result<usize, Lost> {
        self.transport.check()?;
        let mut subscription = self.subscription.lock().unwrap_or_else(|p| p.into_inner());
        // The conductor closes a subscription, under this same lock, once
        // the driver has timed this client out (a pod paused 5 s), and
        // aeron 0.2 then spins for ever in any later poll of it (see Drop).
        if subscription.is_closed() {
            return Err(Lost {
                dir: self.transport.dir.clone(),
                why: "closed this client's subscription (it went silent past the driver's timeout)"
                    .into(),
            });
        }
        let mut handler = |buffer: &AtomicBuffer, offset, length, _: &_| {
            each(buffer.as_sub_slice(offset, length));
        };
        Ok(subscription.poll(&mut handler, limit).max(0) as usize)
    }
}
