//! fizzflow's own Prometheus endpoint: counters and gauges in the text
//! exposition format (with HELP and TYPE lines) at `/metrics`.
//! steady_state's telemetry server keeps its own `/metrics` (channel and
//! actor internals) and cannot carry these.
//!
//! A small std server with explicit limits, because any local user can
//! connect: one request per connection (no keep-alive, so pipelining buys a
//! client nothing), a request head of at most [`MAX_REQUEST`] bytes, at most
//! [`MAX_CLIENTS`] connections served at once (more are told 503 and
//! closed), a deadline per connection, an accept loop that outlives
//! EMFILE, and nothing the process waits for at exit.

use crate::observe::exposition::CONTENT_TYPE;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest request head accepted; a scrape's is a few hundred bytes.
pub const MAX_REQUEST: usize = 8 * 1024;
/// Connections served at once.
pub const MAX_CLIENTS: usize = 16;
/// How long one read or write may stall.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one connection may take in all, however it trickles.
const CLIENT_DEADLINE: Duration = Duration::from_secs(4);
/// A pause after a failed accept (EMFILE and the like) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What a request answers: a text made at that moment.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// What the server serves: `/metrics` always; the live graph page (`/`,
/// `/graph.dot`, its renderer and licence) when there is a graph.
#[derive(Clone)]
pub struct Site {
    pub metrics: Render,
    pub graph: Option<Render>,
}

pub struct MetricsServer {
    addr: SocketAddr,
    /// Written to on finish: wakes the accept loop, which waits on nothing
    /// else when idle (no polling).
    wake: UnixStream,
    accept: JoinHandle<()>,
}

/// Why the metrics endpoint did not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot {step} {addr}: {source}")]
pub struct StartError {
    pub addr: SocketAddr,
    pub step: &'static str,
    #[source]
    pub source: std::io::Error,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free one) and serves until
    /// [`MetricsServer::finish`].
    pub fn start(addr: SocketAddr, site: Site) -> Result<MetricsServer, StartError> {
        let failed = |step: &'static str| move |source| StartError { addr, step, source };
        let listener = TcpListener::bind(addr).map_err(failed("listen on"))?;
        let addr = listener
            .local_addr()
            .map_err(failed("read the address of"))?;
        listener.set_nonblocking(true).map_err(failed("set up"))?;
        let (wake, woken) = UnixStream::pair().map_err(failed("set up"))?;
        let accept = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || accept_loop(listener, woken, site))
            .map_err(failed("start the thread serving"))?;
        Ok(MetricsServer { addr, wake, accept })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting. Connections being served finish on their own within
    /// their deadline, on threads nobody waits for: the process can exit.
    pub fn finish(mut self) {
        let _ = self.wake.write_all(b"x");
        let _ = self.accept.join();
    }
}

fn accept_loop(listener: TcpListener, woken: UnixStream, site: Site) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        if !wait_readable(&listener, &woken) {
            return;
        }
        loop {
            match listener.accept() {
                Ok((stream, _)) => admit(stream, &active, &site),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Out of descriptors or buffers: the connection waits in the
                // backlog; try again once some have been released.
                Err(_) => {
                    std::thread::sleep(ACCEPT_BACKOFF);
                    break;
                }
            }
        }
    }
}

/// Waits until a connection is pending (true) or finish was asked (false).
fn wait_readable(listener: &TcpListener, woken: &UnixStream) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: woken.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds on descriptors that outlive the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 && std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
            continue;
        }
        return n > 0 && fds[1].revents == 0;
    }
}

fn admit(stream: TcpStream, active: &Arc<AtomicUsize>, site: &Site) {
    if active.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
        active.fetch_sub(1, Ordering::AcqRel);
        // Best effort and without waiting on the client.
        let mut stream = stream;
        let _ = stream.set_nonblocking(true);
        let _ = stream.write_all(&response(
            "503 Service Unavailable",
            "fizzflow: too many connections; try again\n",
        ));
        return;
    }
    let (mine, site) = (active.clone(), site.clone());
    let spawned = std::thread::Builder::new()
        .name("metrics-client".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            serve(stream, &site);
            mine.fetch_sub(1, Ordering::AcqRel);
        });
    if spawned.is_err() {
        active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers one request and closes the connection.
fn serve(mut stream: TcpStream, site: &Site) {
    let deadline = Instant::now() + CLIENT_DEADLINE;
    if stream.set_nonblocking(false).is_err() || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    let mut head = [0u8; MAX_REQUEST];
    let mut len = 0;
    let reply = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left.min(IO_TIMEOUT))).is_err() {
            return;
        }
        match stream.read(&mut head[len..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
        if let Some(end) = head[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            break answer(&head[..end], site);
        }
        if len == head.len() {
            break response(
                "431 Request Header Fields Too Large",
                "fizzflow: request too large\n",
            );
        }
    };
    let _ = stream.write_all(&reply);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// The response to a request head (everything before the blank line).
fn answer(head: &[u8], site: &Site) -> Vec<u8> {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    use crate::observe::graph_page::{PAGE, VIZ_JS, VIZ_LICENSE};
    let ok = |content_type: &str, body: &[u8]| {
        let mut reply = response_head("200 OK", content_type);
        let _ = write!(reply, "Content-Length: {}\r\n\r\n", body.len());
        let mut reply = reply.into_bytes();
        reply.extend_from_slice(body);
        reply
    };
    match (method, path, &site.graph) {
        (b"GET", b"/metrics", _) => ok(CONTENT_TYPE, (site.metrics)().as_bytes()),
        (b"GET", b"/", Some(_)) => ok("text/html; charset=utf-8", PAGE.as_bytes()),
        (b"GET", b"/graph.dot", Some(graph)) => {
            ok("text/vnd.graphviz; charset=utf-8", graph().as_bytes())
        }
        (b"GET", b"/viz-global.js", Some(_)) => ok("text/javascript; charset=utf-8", VIZ_JS),
        (b"GET", b"/viz-LICENSE.txt", Some(_)) => {
            ok("text/plain; charset=utf-8", VIZ_LICENSE.as_bytes())
        }
        (b"GET", _, Some(_)) => response(
            "404 Not Found",
            "fizzflow: see / (the pipeline, drawn) or /metrics\n",
        ),
        (b"GET", _, None) => response("404 Not Found", "fizzflow: see /metrics\n"),
        _ => response("405 Method Not Allowed", "fizzflow: only GET\n"),
    }
}

fn response_head(status: &str, content_type: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n")
}

fn response(status: &str, body: &str) -> Vec<u8> {
    let mut reply = response_head(status, "text/plain; charset=utf-8");
    let _ = write!(reply, "Content-Length: {}\r\n\r\n{body}", body.len());
    reply.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::exposition::render;
    use crate::pipeline::live::Live;

    #[test]
    fn only_get_metrics_is_served() {
        let live = Arc::new(Live::default());
        let live = Site {
            metrics: Arc::new(move || render(&live, 8192)),
            graph: None,
        };
        let ok = String::from_utf8(answer(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a", &live)).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("fizzflow_messages_total"), "{ok}");
        assert!(
            ok.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{ok}"
        );
        let len: usize = ok
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, ok.split_once("\r\n\r\n").unwrap().1.len());
        let missing = String::from_utf8(answer(b"GET / HTTP/1.1", &live)).unwrap();
        assert!(
            missing.starts_with("HTTP/1.1 404"),
            "no graph, no page: {missing}"
        );
        let with_graph = Site {
            graph: Some(Arc::new(|| "digraph {}".to_string())),
            ..live.clone()
        };
        for (path, kind) in [
            (&b"GET / HTTP/1.1"[..], "text/html"),
            (b"GET /graph.dot HTTP/1.1", "text/vnd.graphviz"),
            (b"GET /viz-global.js HTTP/1.1", "text/javascript"),
            (b"GET /viz-LICENSE.txt HTTP/1.1", "text/plain"),
        ] {
            let reply = answer(path, &with_graph);
            let head = String::from_utf8_lossy(&reply[..200.min(reply.len())]).to_string();
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            assert!(head.contains(&format!("Content-Type: {kind}")), "{head}");
        }
        let post = String::from_utf8(answer(b"POST /metrics HTTP/1.1", &live)).unwrap();
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        let junk = String::from_utf8(answer(b"\x00\xff", &live)).unwrap();
        assert!(junk.starts_with("HTTP/1.1 405"), "{junk}");
    }
}
