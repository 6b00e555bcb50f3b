//! The media driver of `fizzflow driver`: Aeron's own C driver
//! (rusteron-media-driver, compiled from the sources it bundles), run in
//! the foreground on one dir until told to stop.
//!
//! A dir is only ever taken from nobody. Aeron's rule for a live driver is
//! a recent heartbeat in the dir's CnC file; here the heartbeat is watched
//! until it moves (a live driver's conductor stamps it every second) or
//! grows older than the driver timeout (a dead one's never moves again), so
//! a driver killed a moment ago is recognised as dead within the timeout
//! instead of being mistaken for a live one. A live driver is refused;
//! only a dead driver's files are cleared, and a dir that holds anything
//! Aeron does not write is left alone.

use rusteron_media_driver::bindings as c;
use rusteron_media_driver::{AeronCError, AeronDriver, AeronDriverContext};
use std::ffi::{CStr, CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything a media driver writes into its dir. Clearing a dir removes
/// it whole (Aeron's `dir_delete_on_start`), so a dir with anything else
/// in it is someone's and is never cleared.
const AERON_ENTRIES: [&str; 4] = ["cnc.dat", "loss-report.dat", "publications", "images"];

/// How long a driver (or a client) may go silent before it counts as dead.
/// Aeron's default is 10 s: a killed driver's dir could not be taken over,
/// nor a killed pod's publications released, for that long. 3 s is still
/// three conductor heartbeats, so a loaded machine does not make a live
/// driver look dead. (Clients judge the driver by their own timeout.)
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(3);

/// SO_RCVBUF, SO_SNDBUF and the initial receive window on UDP. Aeron
/// refuses a receive window larger than the socket's receive buffer, and
/// its defaults (128 KiB window, the kernel's buffers) throttle a loopback
/// stream to a trickle; 4 MiB of each let a UDP pod pair stream without
/// the window stalling. (A kernel net.core.rmem_max below it caps the
/// buffer, and Aeron warns.)
const UDP_BUFFER: usize = 4 << 20;

/// Term length of IPC publications. Aeron's default, 64 MiB, costs three
/// terms (192 MiB) of /dev/shm per publication, and tests run many drivers
/// at once; 4 MiB terms hold far more than a pod keeps in flight. A channel
/// may still ask for more (`aeron:ipc?term-length=...`).
const IPC_TERM_LENGTH: usize = 4 << 20;

/// Why a dir is not one a driver may use.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("it is a symbolic link")]
    Symlink,
    #[error("it is not a directory")]
    NotADirectory,
    #[error("its parent directory does not exist")]
    NoParent,
    #[error("it holds {0:?}, which no media driver writes, so it is not a driver's")]
    Foreign(OsString),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("the media driver dir {} is in use by a live driver{}", .dir.display(), pid_note(*.pid))]
    InUse { dir: PathBuf, pid: Option<i64> },
    #[error("another media driver was still starting in {} after {waited:?}", .dir.display())]
    Starting { dir: PathBuf, waited: Duration },
    #[error("the media driver dir {} cannot be used: {why}; it was left as it was", .dir.display())]
    Unusable { dir: PathBuf, why: Unusable },
    #[error("the media driver could not {step}: {source}")]
    Aeron {
        step: &'static str,
        source: AeronCError,
    },
}

fn pid_note(pid: Option<i64>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// A dead driver whose files were cleared to make room.
#[derive(Debug, Clone, Copy)]
pub struct Previous {
    pub pid: Option<i64>,
}

/// A started driver; [`Driver::serve`] runs it.
pub struct Driver {
    // Dropped in this order: the driver closes, then its context, which
    // removes the dir (Aeron's `dir_delete_on_shutdown`).
    driver: AeronDriver,
    context: AeronDriverContext,
    dir: PathBuf,
    previous: Option<Previous>,
}

/// Aeron's version, as the driver reports it.
pub fn aeron_version() -> String {
    // SAFETY: a static string compiled into the library.
    unsafe { CStr::from_ptr(c::aeron_version_text()) }
        .to_string_lossy()
        .into_owned()
}

/// Starts a driver on `dir` (made absolute: every process must name the
/// same one), refusing a dir a live driver uses or that is not a driver's.
pub fn start(dir: &Path) -> Result<Driver, DriverError> {
    let dir = std::path::absolute(dir).map_err(|e| DriverError::Unusable {
        dir: dir.to_path_buf(),
        why: e.into(),
    })?;
    let unusable = |why: Unusable| DriverError::Unusable {
        dir: dir.clone(),
        why,
    };
    let exists = check_dir(&dir).map_err(unusable)?;
    let parent = dir.parent().ok_or_else(|| unusable(Unusable::NoParent))?;
    let context = configure(&dir)?;
    let timeout = Duration::from_millis(context.get_driver_timeout_ms());
    // Two drivers starting on one dir at once would each find it free;
    // the parent's lock makes the check and the start one step. It is
    // held until the new driver's CnC file is up, so whoever checks next
    // sees it.
    let waited = timeout * 2 + Duration::from_secs(2);
    let _lock = match lock_dir(parent, waited) {
        Ok(Some(lock)) => lock,
        Ok(None) => return Err(DriverError::Starting { dir, waited }),
        Err(e) => return Err(unusable(e.into())),
    };
    let mut previous = None;
    if exists {
        foreign_entry(&dir).map_err(unusable)?;
        if dir.join("cnc.dat").exists() {
            match holder(&dir, timeout) {
                Holder::Live { pid } => return Err(DriverError::InUse { dir, pid }),
                Holder::Dead { pid } => previous = Some(Previous { pid }),
            }
        }
    }
    // Only now, with no live driver there and nothing but a driver's
    // files: Aeron clears the dir as it starts, and everything in it is
    // then this driver's, so a clean stop removes it (it is memory, in
    // /dev/shm).
    let aeron = |step| {
        move |e: AeronCError| DriverError::Aeron {
            step,
            source: e.capture_errmsg(),
        }
    };
    context
        .set_dir_delete_on_start(true)
        .and_then(|_| context.set_dir_delete_on_shutdown(true))
        .map_err(aeron("be configured"))?;
    let driver = AeronDriver::new(&context).map_err(aeron("start"))?;
    driver.start(true).map_err(aeron("start"))?;
    Ok(Driver {
        driver,
        context,
        dir,
        previous,
    })
}

impl Driver {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The dead driver whose files were cleared, if there was one.
    pub fn previous(&self) -> Option<Previous> {
        self.previous
    }

    /// Does the driver's work on this thread until `stopped` says so, then
    /// closes it; true if its dir is gone.
    pub fn serve(self, stopped: &dyn Fn() -> bool) -> Result<bool, DriverError> {
        while !stopped() {
            let work = self.driver.main_do_work().map_err(|e| DriverError::Aeron {
                step: "keep running",
                source: e.capture_errmsg(),
            })?;
            self.driver.main_idle_strategy(work);
        }
        let Driver {
            driver,
            context,
            dir,
            ..
        } = self;
        drop(driver);
        drop(context);
        Ok(!dir.exists())
    }
}

/// The settings that make failure detection and loopback work; each is
/// fizzflow's only where its AERON_* variable is not set, so Aeron's own
/// way of tuning a driver still works.
fn configure(dir: &Path) -> Result<AeronDriverContext, DriverError> {
    let aeron = |e: AeronCError| DriverError::Aeron {
        step: "be configured",
        source: e.capture_errmsg(),
    };
    let context = AeronDriverContext::new().map_err(aeron)?;
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(|e| DriverError::Unusable {
        dir: dir.to_path_buf(),
        why: Unusable::Io(std::io::Error::other(e)),
    })?;
    context.set_dir(&path).map_err(aeron)?;
    // Closing a context deletes its dir if told to, and the environment
    // (AERON_DIR_DELETE_ON_SHUTDOWN, ..._ON_START) may have told it: a
    // refused start would then delete a live driver's dir, or someone's.
    // Both stay off until the dir is known to be free (`start`).
    context.set_dir_delete_on_start(false).map_err(aeron)?;
    context.set_dir_delete_on_shutdown(false).map_err(aeron)?;
    let ours = |var: &str| std::env::var_os(var).is_none();
    if ours("AERON_DRIVER_TIMEOUT") {
        // In a driver, only how stale a heartbeat must be for a dir to be
        // taken over (here and in Aeron's own check as it starts).
        let ms = LIVENESS_TIMEOUT.as_millis() as u64;
        context.set_driver_timeout_ms(ms).map_err(aeron)?;
    }
    if ours("AERON_CLIENT_LIVENESS_TIMEOUT") {
        // A killed pod's publications and subscriptions are released (and
        // its peer sees it go) after this, not after Aeron's 10 s.
        let ns = LIVENESS_TIMEOUT.as_nanos() as u64;
        context.set_client_liveness_timeout_ns(ns).map_err(aeron)?;
    }
    if ours("AERON_SOCKET_SO_RCVBUF") {
        context.set_socket_so_rcvbuf(UDP_BUFFER).map_err(aeron)?;
    }
    if ours("AERON_SOCKET_SO_SNDBUF") {
        context.set_socket_so_sndbuf(UDP_BUFFER).map_err(aeron)?;
    }
    if ours("AERON_RCV_INITIAL_WINDOW_LENGTH") {
        context
            .set_rcv_initial_window_length(UDP_BUFFER)
            .map_err(aeron)?;
    }
    if ours("AERON_IPC_TERM_BUFFER_LENGTH") {
        context
            .set_ipc_term_buffer_length(IPC_TERM_LENGTH)
            .map_err(aeron)?;
    }
    Ok(context)
}

/// Whether `dir` exists; an error if it cannot be a driver's dir at all.
fn check_dir(dir: &Path) -> Result<bool, Unusable> {
    match std::fs::symlink_metadata(dir) {
        // A symlink would have Aeron clear whatever it points at.
        Ok(m) if m.file_type().is_symlink() => Err(Unusable::Symlink),
        Ok(m) if !m.is_dir() => Err(Unusable::NotADirectory),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A parent that does not exist is a typo until proven otherwise
            // (Aeron itself would make every missing level).
            match dir.parent().map(std::fs::metadata) {
                Some(Ok(m)) if m.is_dir() => Ok(false),
                _ => Err(Unusable::NoParent),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// An entry of `dir` that no driver writes, as an error.
fn foreign_entry(dir: &Path) -> Result<(), Unusable> {
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if !AERON_ENTRIES.iter().any(|known| name == *known) {
            return Err(Unusable::Foreign(name));
        }
    }
    Ok(())
}

/// The parent dir, locked (flock) against other fizzflow drivers starting
/// beside us; None if it stayed locked for `limit`.
fn lock_dir(dir: &Path, limit: Duration) -> std::io::Result<Option<std::fs::File>> {
    let handle = std::fs::File::open(dir)?;
    let deadline = Instant::now() + limit;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(handle));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(e);
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid a dir's CnC file names, if it has a readable one now.
pub fn serving_pid(dir: &Path) -> Option<i64> {
    Cnc::open(dir, Duration::ZERO)?.pid()
}

/// Who holds a dir with a CnC file.
enum Holder {
    Live { pid: Option<i64> },
    Dead { pid: Option<i64> },
}

/// What one look at the heartbeat says.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Live,
    Dead,
    LookAgain,
}

/// Aeron's rule (aeron_is_driver_active: live while the heartbeat is at
/// most `timeout_ms` old), watched over time: a heartbeat that moves is a
/// live driver at once; one that grows too old without moving, or that a
/// driver's clean stop set to -1, is a dead one.
fn verdict(first_ms: i64, now_hb_ms: i64, now_ms: i64, timeout_ms: i64) -> Verdict {
    if now_hb_ms <= 0 {
        Verdict::Dead
    } else if now_hb_ms != first_ms {
        Verdict::Live
    } else if now_ms.saturating_sub(now_hb_ms) > timeout_ms {
        Verdict::Dead
    } else {
        Verdict::LookAgain
    }
}

fn holder(dir: &Path, timeout: Duration) -> Holder {
    let Some(cnc) = Cnc::open(dir, timeout) else {
        // Never initialised within the timeout, or not a CnC file Aeron can
        // read: Aeron takes such a dir as free too.
        return Holder::Dead { pid: None };
    };
    let pid = cnc.pid();
    let timeout_ms = timeout.as_millis() as i64;
    let first = cnc.heartbeat_ms();
    // The clock may jump; past this the snapshot rule decides.
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    loop {
        // SAFETY: reads the system clock.
        let now = unsafe { c::aeron_epoch_clock() };
        let hb = cnc.heartbeat_ms();
        match verdict(first, hb, now, timeout_ms) {
            Verdict::Live => return Holder::Live { pid },
            Verdict::Dead => return Holder::Dead { pid },
            Verdict::LookAgain if Instant::now() >= deadline => return Holder::Live { pid },
            Verdict::LookAgain => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A dir's CnC file, mapped read-only by Aeron's own reader.
struct Cnc(*mut c::aeron_cnc_t);

impl Cnc {
    fn open(dir: &Path, wait: Duration) -> Option<Cnc> {
        let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut cnc = std::ptr::null_mut();
        // SAFETY: `path` is a C string that outlives the call; on success
        // `cnc` is Aeron's, released in Drop.
        let rc = unsafe { c::aeron_cnc_init(&mut cnc, path.as_ptr(), wait.as_millis() as i64) };
        (rc == 0 && !cnc.is_null()).then_some(Cnc(cnc))
    }

    fn heartbeat_ms(&self) -> i64 {
        // SAFETY: a CnC opened by aeron_cnc_init and not yet closed.
        unsafe { c::aeron_cnc_to_driver_heartbeat(self.0) }
    }

    fn pid(&self) -> Option<i64> {
        // SAFETY: as above; `constants` is plain data Aeron fills.
        unsafe {
            let mut constants: c::aeron_cnc_constants_t = std::mem::zeroed();
            (c::aeron_cnc_constants(self.0, &mut constants) == 0 && constants.pid > 0)
                .then_some(constants.pid)
        }
    }
}

impl Drop for Cnc {
    fn drop(&mut self) {
        // SAFETY: opened by aeron_cnc_init, closed once.
        unsafe { c::aeron_cnc_close(self.0) }
    }
}

#[cfg(test)]
mod tests;
