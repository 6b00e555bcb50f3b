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
                None if is_loopback(&host) && port < u16::MAX => {
                    format!("aeron:udp?endpoint={host}:{}", port + 1)
                }
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

    /// What names this pair of streams for a lock: the sink's channel and
    /// stream, as a file name.
    pub fn key(&self) -> String {
        let clean: String = self
            .data
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("{clean}-{}", self.data_stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
