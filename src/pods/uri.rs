//! The Aeron channels the pods use, from what a person passes: `--channel`
//! (the data stream, source to sink) and, across machines, `--control`
//! (the sink's orders, back to the source).

use std::net::SocketAddr;

/// The default `--channel`: shared memory through one media driver.
pub const DEFAULT_CHANNEL: &str = "aeron:ipc";

/// The default `--stream-id`; the control stream is the next one.
pub const DEFAULT_STREAM: i32 = 1001;

/// Frames up to 64 KiB (Aeron's largest MTU): a DATA frame carries 8,176
/// values, so 100 M values/s is 12 K frames/s, not 70 K. Only where it
/// costs nothing: shared memory, and the loopback interface (MTU 64 KiB).
const BIG_MTU: &str = "mtu=65504";

/// Shared-memory terms of 16 MiB instead of Aeron's 64 MiB: three of them
/// per stream live in /dev/shm while a pod runs.
const IPC_TERM: &str = "term-length=16m";

/// The two channels of a pair of pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channels {
    pub data: String,
    pub control: String,
    pub data_stream: i32,
    pub control_stream: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error(
        "the channel is aeron:ipc or aeron:udp?endpoint=HOST:PORT (the sink's host and port), not '{0}'"
    )]
    Channel(String),
    #[error(
        "the control channel is aeron:udp?endpoint=HOST:PORT (the source's host and port), not '{0}'"
    )]
    Control(String),
    #[error(
        "across machines (channel {0}) the source's address is needed too, as a control channel aeron:udp?endpoint=SOURCE_HOST:PORT given to both pods"
    )]
    ControlNeeded(String),
    #[error(
        "a control channel is only for aeron:udp channels (the control stream of aeron:ipc is the same shared memory)"
    )]
    ControlWithIpc,
    #[error(
        "on loopback the control stream takes the next port, and {0} has none: take a lower port, or name a control channel"
    )]
    NoNextPort(u16),
    #[error("the stream id is from 1 to 2147483646 (the control stream is the next id), not {0}")]
    Stream(i64),
}

/// `endpoint=HOST:PORT` of a UDP URI, if it is one.
fn endpoint(uri: &str) -> Option<(String, u16)> {
    let params = uri.strip_prefix("aeron:udp?")?;
    let value = params
        .split('|')
        .find_map(|p| p.strip_prefix("endpoint="))?;
    let (host, port) = value.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    (!host.is_empty() && port > 0).then(|| (host.to_string(), port))
}

/// The medium a channel URI names: `ipc`, or `udp:IP:PORT` of its endpoint.
fn medium(uri: &str) -> String {
    use std::net::ToSocketAddrs;
    match endpoint(uri) {
        None => "ipc".into(),
        Some((host, port)) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let ip = if host.eq_ignore_ascii_case("localhost") {
                "127.0.0.1".to_string()
            } else {
                let addrs: Vec<SocketAddr> = (host, port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                addrs
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or(addrs.first())
                    .map_or_else(|| host.to_ascii_lowercase(), |a| a.ip().to_string())
            };
            format!("udp:{ip}:{port}")
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || format!("{host}:0")
            .parse::<SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback())
}

/// `uri` with `param` added unless the person set that parameter.
fn with(uri: &str, param: &str) -> String {
    let key = &param[..param.find('=').expect("key=value")];
    let set = uri
        .split_once('?')
        .is_some_and(|(_, ps)| ps.split('|').any(|p| p.starts_with(&format!("{key}="))));
    match (set, uri.contains('?')) {
        (true, _) => uri.to_string(),
        (false, true) => format!("{uri}|{param}"),
        (false, false) => format!("{uri}?{param}"),
    }
}

impl Channels {
    pub fn new(channel: &str, control: Option<&str>, stream: i64) -> Result<Channels, UriError> {
        if !(1..i32::MAX as i64).contains(&stream) {
            return Err(UriError::Stream(stream));
        }
        let (data, control) = if channel == DEFAULT_CHANNEL || channel.starts_with("aeron:ipc?") {
            if control.is_some() {
                return Err(UriError::ControlWithIpc);
            }
            let data = with(&with(channel, IPC_TERM), BIG_MTU);
            (data.clone(), data)
        } else {
            let (host, port) =
                endpoint(channel).ok_or_else(|| UriError::Channel(channel.into()))?;
            let control = match control {
                Some(c) => {
                    endpoint(c).ok_or_else(|| UriError::Control(c.into()))?;
                    c.to_string()
                }
                None if is_loopback(&host) => match port.checked_add(1) {
                    Some(next) => format!("aeron:udp?endpoint={host}:{next}"),
                    None => return Err(UriError::NoNextPort(port)),
                },
                None => return Err(UriError::ControlNeeded(channel.into())),
            };
            let big = |uri: &str| match endpoint(uri) {
                Some((h, _)) if is_loopback(&h) => with(uri, BIG_MTU),
                _ => uri.to_string(),
            };
            (big(channel), big(&control))
        };
        Ok(Channels {
            data,
            control,
            data_stream: stream as i32,
            control_stream: stream as i32 + 1,
        })
    }

    /// What names each of the two streams for a lock, as the driver tells
    /// streams apart: every aeron:ipc channel is one medium whatever its
    /// parameters (`?alias=…` is the same stream), and a UDP one is its
    /// endpoint's address, resolved (`localhost` is 127.0.0.1).
    pub fn keys(&self) -> [String; 2] {
        [
            format!("{}/{}", medium(&self.data), self.data_stream),
            format!("{}/{}", medium(&self.control), self.control_stream),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_port_has_no_next_one_for_the_control_stream() {
        assert_eq!(
            Channels::new("aeron:udp?endpoint=127.0.0.1:65535", None, 1001),
            Err(UriError::NoNextPort(65535))
        );
    }

    #[test]
    fn a_lock_key_is_the_stream_as_the_driver_sees_it() {
        let plain = Channels::new("aeron:ipc", None, 1001).unwrap();
        let alias = Channels::new("aeron:ipc?alias=b|mtu=8192", None, 1001).unwrap();
        assert_eq!(plain.keys(), alias.keys());
        assert_eq!(
            plain.keys(),
            ["ipc/1001".to_string(), "ipc/1002".to_string()]
        );
        let named = Channels::new("aeron:udp?endpoint=localhost:40123", None, 7).unwrap();
        let numbered =
            Channels::new("aeron:udp?endpoint=127.0.0.1:40123|mtu=1408", None, 7).unwrap();
        assert_eq!(named.keys(), numbered.keys());
        assert_eq!(named.keys()[0], "udp:127.0.0.1:40123/7");
        assert_eq!(named.keys()[1], "udp:127.0.0.1:40124/8");
    }

    #[test]
    fn ipc_shares_one_channel_with_big_frames_and_small_terms() {
        let c = Channels::new("aeron:ipc", None, 1001).unwrap();
        assert_eq!(c.data, "aeron:ipc?term-length=16m|mtu=65504");
        assert_eq!(c.control, c.data);
        assert_eq!((c.data_stream, c.control_stream), (1001, 1002));
        // What a person set stays.
        let c = Channels::new("aeron:ipc?term-length=64k", None, 7).unwrap();
        assert_eq!(c.data, "aeron:ipc?term-length=64k|mtu=65504");
    }

    #[test]
    fn udp_loopback_takes_the_next_port_for_control() {
        let c = Channels::new("aeron:udp?endpoint=127.0.0.1:40456", None, 1001).unwrap();
        assert_eq!(c.data, "aeron:udp?endpoint=127.0.0.1:40456|mtu=65504");
        assert_eq!(c.control, "aeron:udp?endpoint=127.0.0.1:40457|mtu=65504");
    }

    #[test]
    fn across_machines_the_control_address_is_required() {
        let remote = "aeron:udp?endpoint=10.0.0.5:40456";
        assert_eq!(
            Channels::new(remote, None, 1001),
            Err(UriError::ControlNeeded(remote.into()))
        );
        let c = Channels::new(remote, Some("aeron:udp?endpoint=10.0.0.6:40457"), 1001).unwrap();
        assert_eq!(c.data, remote, "no big frames over a real network");
        assert_eq!(c.control, "aeron:udp?endpoint=10.0.0.6:40457");
    }

    #[test]
    fn odd_uris_are_refused_with_what_is_expected() {
        for bad in [
            "",
            "aeron:udp",
            "aeron:udp?endpoint=host",
            "udp://x:1",
            "aeron:udp?endpoint=:80",
        ] {
            assert!(
                matches!(Channels::new(bad, None, 1001), Err(UriError::Channel(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Channels::new("aeron:ipc", Some("aeron:udp?endpoint=1.2.3.4:5"), 1),
            Err(UriError::ControlWithIpc)
        );
        assert_eq!(
            Channels::new("aeron:ipc", None, 0),
            Err(UriError::Stream(0))
        );
        assert_eq!(
            Channels::new("aeron:ipc", None, i32::MAX as i64),
            Err(UriError::Stream(i32::MAX as i64))
        );
    }
}
