//! What the two pods say to each other, byte by byte. Everything is
//! little-endian and fixed-size but for a data frame's values; a frame is
//! one Aeron message, never split.
//!
//! Source to sink, on the data stream:
//!
//! | frame | bytes | fields |
//! |-------|-------|--------|
//! | HELLO | 16 | tag 1, 7 zero bytes, the source's nonce |
//! | DATA  | 32 + 8n | tag 2, 3 zero bytes, n (u32), nonce, epoch, first position, n values |
//!
//! Sink to source, on the control stream:
//!
//! | frame | bytes | fields |
//! |-------|-------|--------|
//! | ORDER | 56 | tag 3, flags, 6 zero bytes, sink nonce, source nonce, epoch, from, up to, committed |
//!
//! Bytes from the network are anyone's: [`decode`] checks every length and
//! tag and never panics; a frame it cannot read is dropped and counted.

/// The most values one DATA frame carries: what fits an Aeron message of
/// 64 KiB less Aeron's own header.
pub const MAX_VALUES: usize = 8176;

const HELLO: u8 = 1;
const DATA: u8 = 2;
const ORDER: u8 = 3;
const HELLO_LEN: usize = 16;
pub const DATA_HEADER_LEN: usize = 32;
const ORDER_LEN: usize = 56;

/// ORDER flags.
const DONE: u8 = 1;
const BUSY: u8 = 2;

/// A source introduces itself until a sink answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    pub source: u64,
}

/// The header of a run of values: `count` values from position `first`,
/// sent by `source` under the sink's `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataHeader {
    pub source: u64,
    pub epoch: u64,
    pub first: u64,
    pub count: u32,
}

/// What a sink tells the source it serves, again and again (an order is a
/// state, not an event: a lost or repeated one changes nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub sink: u64,
    /// The source it is addressed to.
    pub source: u64,
    /// A new epoch means: start again at `from`. Data frames carry the
    /// epoch they were sent under, so the sink can tell data sent before
    /// the source heard this order from data sent after.
    pub epoch: u64,
    pub from: u64,
    /// The source may send values at positions below this.
    pub up_to: u64,
    /// The sink's newest durable cut: everything below it is safe.
    pub committed: u64,
    pub kind: OrderKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    /// Send from `from` under `epoch`, up to `up_to`.
    Send,
    /// The run is over and durable: the source may exit.
    Done,
    /// This sink is served by another source: go away.
    Busy,
}

/// One frame as read from the wire.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Hello(Hello),
    /// The header and the values' bytes (8 per value, little-endian).
    Data(DataHeader, &'a [u8]),
    Order(Order),
}

/// Why a frame was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadFrame {
    #[error("empty frame")]
    Empty,
    #[error("unknown frame tag {0}")]
    Tag(u8),
    #[error("a frame of tag {tag} cannot be {len} bytes long")]
    Length { tag: u8, len: usize },
    #[error("unknown order flags {0:#x}")]
    Flags(u8),
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, BadFrame> {
    let tag = *bytes.first().ok_or(BadFrame::Empty)?;
    let wrong = BadFrame::Length {
        tag,
        len: bytes.len(),
    };
    match tag {
        HELLO if bytes.len() == HELLO_LEN => Ok(Frame::Hello(Hello {
            source: u64_at(bytes, 8),
        })),
        DATA if bytes.len() >= DATA_HEADER_LEN => {
            let count = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
            let values = &bytes[DATA_HEADER_LEN..];
            if values.len() != count as usize * 8 || count as usize > MAX_VALUES {
                return Err(wrong);
            }
            let header = DataHeader {
                source: u64_at(bytes, 8),
                epoch: u64_at(bytes, 16),
                first: u64_at(bytes, 24),
                count,
            };
            Ok(Frame::Data(header, values))
        }
        ORDER if bytes.len() == ORDER_LEN => {
            let kind = match bytes[1] {
                0 => OrderKind::Send,
                DONE => OrderKind::Done,
                BUSY => OrderKind::Busy,
                other => return Err(BadFrame::Flags(other)),
            };
            Ok(Frame::Order(Order {
                sink: u64_at(bytes, 8),
                source: u64_at(bytes, 16),
                epoch: u64_at(bytes, 24),
                from: u64_at(bytes, 32),
                up_to: u64_at(bytes, 40),
                committed: u64_at(bytes, 48),
                kind,
            }))
        }
        HELLO | DATA | ORDER => Err(wrong),
        other => Err(BadFrame::Tag(other)),
    }
}

pub fn hello(h: Hello) -> [u8; HELLO_LEN] {
    let mut out = [0u8; HELLO_LEN];
    out[0] = HELLO;
    out[8..16].copy_from_slice(&h.source.to_le_bytes());
    out
}

pub fn order(o: &Order) -> [u8; ORDER_LEN] {
    let mut out = [0u8; ORDER_LEN];
    out[0] = ORDER;
    out[1] = match o.kind {
        OrderKind::Send => 0,
        OrderKind::Done => DONE,
        OrderKind::Busy => BUSY,
    };
    for (i, v) in [o.sink, o.source, o.epoch, o.from, o.up_to, o.committed]
        .into_iter()
        .enumerate()
    {
        out[8 + 8 * i..16 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes a DATA frame for the values `first..first + count` into `out`
/// (cleared first): the values are the positions themselves, which is
/// what the generator makes and what the sink's logger checks.
pub fn data(out: &mut Vec<u8>, source: u64, epoch: u64, first: u64, count: usize) {
    debug_assert!(count <= MAX_VALUES);
    out.clear();
    out.reserve(DATA_HEADER_LEN + 8 * count);
    out.push(DATA);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&(count as u32).to_le_bytes());
    for v in [source, epoch, first] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in first..first + count as u64 {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// The `i`-th value of a DATA frame's value bytes.
pub fn value_at(values: &[u8], i: usize) -> u64 {
    u64_at(values, 8 * i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        assert_eq!(
            decode(&hello(Hello { source: 7 })),
            Ok(Frame::Hello(Hello { source: 7 }))
        );
        let o = Order {
            sink: 1,
            source: 2,
            epoch: 3,
            from: 4,
            up_to: 5,
            committed: 6,
            kind: OrderKind::Busy,
        };
        assert_eq!(decode(&order(&o)), Ok(Frame::Order(o)));
        let mut buf = Vec::new();
        data(&mut buf, 9, 2, 100, 3);
        let Ok(Frame::Data(h, values)) = decode(&buf) else {
            panic!("not data");
        };
        assert_eq!(
            h,
            DataHeader {
                source: 9,
                epoch: 2,
                first: 100,
                count: 3
            }
        );
        assert_eq!(
            (0..3).map(|i| value_at(values, i)).collect::<Vec<_>>(),
            [100, 101, 102]
        );
    }

    #[test]
    fn a_full_frame_fits_one_aeron_message_of_64_kib() {
        let mut buf = Vec::new();
        data(&mut buf, 1, 1, 0, MAX_VALUES);
        // Aeron's largest MTU is 65,504 bytes, its data header 32.
        assert!(buf.len() <= 65_504 - 32, "{}", buf.len());
    }

    #[test]
    fn no_bytes_make_the_decoder_panic_and_odd_ones_are_refused() {
        let mut rng = fastrand::Rng::with_seed(0x90D5);
        let mut good = Vec::new();
        data(&mut good, 1, 1, 0, 4);
        for _ in 0..20_000 {
            let mut b = match rng.u8(0..3) {
                0 => good.clone(),
                1 => order(&Order {
                    sink: 1,
                    source: 1,
                    epoch: 1,
                    from: 0,
                    up_to: 9,
                    committed: 0,
                    kind: OrderKind::Send,
                })
                .to_vec(),
                _ => (0..rng.usize(0..80)).map(|_| rng.u8(..)).collect(),
            };
            for _ in 0..rng.usize(0..3) {
                match rng.u8(0..3) {
                    0 if !b.is_empty() => {
                        let at = rng.usize(0..b.len());
                        b[at] = rng.u8(..);
                    }
                    1 => b.truncate(rng.usize(0..=b.len())),
                    _ => b.push(rng.u8(..)),
                }
            }
            let _ = decode(&b);
        }
        assert_eq!(decode(&[]), Err(BadFrame::Empty));
        assert_eq!(decode(&[9]), Err(BadFrame::Tag(9)));
        let mut short = good.clone();
        short.pop();
        assert!(matches!(decode(&short), Err(BadFrame::Length { .. })));
        let mut lying = good.clone();
        lying[4] = 5; // says five values, carries four
        assert!(matches!(decode(&lying), Err(BadFrame::Length { .. })));
    }
}
