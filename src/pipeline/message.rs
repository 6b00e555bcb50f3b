//! The message that flows from the worker to the logger, and the FizzBuzz
//! classification both of them agree on.
//!
//! Convention: 0 is divisible by 3 and by 5, so 0 is `FizzBuzz`. Over the
//! values `[0, n)` that gives the closed form in [`KindCounts::closed_form`].

use serde::{Deserialize, Serialize};

/// What a value is. `repr(u8)` keeps [`FizzBuzzMsg`] at 16 bytes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[default]
    Value = 0,
    Fizz = 1,
    Buzz = 2,
    FizzBuzz = 3,
}

/// The kinds repeat with period 15; indexing this table by `v % 15` is the
/// classification, and walking it with a phase counter avoids a division
/// per message on the hot path.
pub const CYCLE: [Kind; 15] = [
    Kind::FizzBuzz,
    Kind::Value,
    Kind::Value,
    Kind::Fizz,
    Kind::Value,
    Kind::Buzz,
    Kind::Fizz,
    Kind::Value,
    Kind::Value,
    Kind::Fizz,
    Kind::Buzz,
    Kind::Value,
    Kind::Fizz,
    Kind::Value,
    Kind::Value,
];

/// One classified value: 16 bytes, `Copy`, so channels move it by memcpy.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FizzBuzzMsg {
    pub value: u64,
    pub kind: Kind,
    /// Always zero. Spelled out so the struct has no padding: then every
    /// one of its 16 bytes is initialised and it can be compared as a u128.
    pad: [u8; 7],
}

impl FizzBuzzMsg {
    pub const fn with_kind(value: u64, kind: Kind) -> Self {
        FizzBuzzMsg {
            value,
            kind,
            pad: [0; 7],
        }
    }

    pub fn new(value: u64) -> Self {
        Self::with_kind(value, classify(value))
    }

    /// The message's 16 bytes as one number, for one-instruction compares.
    #[inline(always)]
    pub fn bits(self) -> u128 {
        // SAFETY: repr(C) with fields 8 + 1 + 7 bytes at align 8 is exactly
        // 16 bytes with no padding, all initialised (Kind is a u8).
        unsafe { std::mem::transmute::<FizzBuzzMsg, u128>(self) }
    }
}

/// The reference definition, written the long way so the table above can be
/// checked against it.
pub fn classify(value: u64) -> Kind {
    match (value.is_multiple_of(3), value.is_multiple_of(5)) {
        (true, true) => Kind::FizzBuzz,
        (true, false) => Kind::Fizz,
        (false, true) => Kind::Buzz,
        (false, false) => Kind::Value,
    }
}

#[inline]
pub fn phase_of(value: u64) -> usize {
    (value % 15) as usize
}

#[inline]
pub fn next_phase(phase: usize) -> usize {
    if phase == 14 { 0 } else { phase + 1 }
}

/// Classifies `src` into `dst` (same length). Values are classified as they
/// are, but a run of consecutive values (the normal case) takes the fast
/// path that writes whole 15-value cycles of the table instead of dividing.
pub fn classify_into(src: &[u64], dst: &mut [std::mem::MaybeUninit<FizzBuzzMsg>]) {
    debug_assert_eq!(src.len(), dst.len());
    let Some(&first) = src.first() else { return };
    if is_consecutive(src, first) {
        write_run(first, dst);
    } else {
        for (slot, &v) in dst.iter_mut().zip(src) {
            slot.write(FizzBuzzMsg::new(v));
        }
    }
}

/// Writes the messages for `first, first + 1, …` into `dst`.
fn write_run(first: u64, dst: &mut [std::mem::MaybeUninit<FizzBuzzMsg>]) {
    let lead = lead_in(first, dst.len());
    let (head, rest) = dst.split_at_mut(lead);
    for (i, slot) in head.iter_mut().enumerate() {
        slot.write(FizzBuzzMsg::new(first.wrapping_add(i as u64)));
    }
    // From here every block starts at a multiple of 15, so its kinds are the
    // table itself: constants the compiler unrolls into plain stores.
    let mut base = first.wrapping_add(lead as u64);
    let mut blocks = rest.chunks_exact_mut(15);
    for block in &mut blocks {
        for (j, slot) in block.iter_mut().enumerate() {
            slot.write(FizzBuzzMsg::with_kind(
                base.wrapping_add(j as u64),
                CYCLE[j],
            ));
        }
        base = base.wrapping_add(15);
    }
    for (j, slot) in blocks.into_remainder().iter_mut().enumerate() {
        slot.write(FizzBuzzMsg::with_kind(
            base.wrapping_add(j as u64),
            CYCLE[j],
        ));
    }
}

/// How many values from `first` come before the next multiple of 15.
fn lead_in(first: u64, len: usize) -> usize {
    ((15 - phase_of(first)) % 15).min(len)
}

/// True when `msgs[i]` is exactly the message for `first + i` (value and
/// kind) for every i. One branch-free pass of 16-byte compares.
pub fn is_exact_run(msgs: &[FizzBuzzMsg], first: u64) -> bool {
    let lead = lead_in(first, msgs.len());
    let (head, rest) = msgs.split_at(lead);
    let mut diff = 0u128;
    for (i, m) in head.iter().enumerate() {
        diff |= m.bits() ^ FizzBuzzMsg::new(first.wrapping_add(i as u64)).bits();
    }
    let mut base = first.wrapping_add(lead as u64);
    let blocks = rest.chunks_exact(15);
    let tail = blocks.remainder();
    for block in blocks {
        for (j, m) in block.iter().enumerate() {
            diff |= m.bits() ^ FizzBuzzMsg::with_kind(base.wrapping_add(j as u64), CYCLE[j]).bits();
        }
        base = base.wrapping_add(15);
    }
    for (j, m) in tail.iter().enumerate() {
        diff |= m.bits() ^ FizzBuzzMsg::with_kind(base.wrapping_add(j as u64), CYCLE[j]).bits();
    }
    diff == 0
}

fn is_consecutive(src: &[u64], first: u64) -> bool {
    // A branch-free reduction so the check vectorises.
    src.iter().enumerate().fold(0u64, |acc, (i, &v)| {
        acc | (v ^ first.wrapping_add(i as u64))
    }) == 0
}

/// Counts per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounts {
    pub fizz: u64,
    pub buzz: u64,
    pub fizzbuzz: u64,
    pub value: u64,
}

impl KindCounts {
    /// The counts over the values `[0, n)`, with 0 counted as FizzBuzz:
    /// fizzbuzz = ⌈n/15⌉, fizz = ⌈n/3⌉ − ⌈n/15⌉, buzz = ⌈n/5⌉ − ⌈n/15⌉,
    /// value = the rest.
    pub fn closed_form(n: u64) -> Self {
        let fizzbuzz = n.div_ceil(15);
        let fizz = n.div_ceil(3) - fizzbuzz;
        let buzz = n.div_ceil(5) - fizzbuzz;
        KindCounts {
            fizz,
            buzz,
            fizzbuzz,
            value: n - fizz - buzz - fizzbuzz,
        }
    }

    /// The counts over the values `[start, end)`.
    pub fn of_range(start: u64, end: u64) -> Self {
        let (a, b) = (Self::closed_form(start), Self::closed_form(end));
        KindCounts {
            fizz: b.fizz - a.fizz,
            buzz: b.buzz - a.buzz,
            fizzbuzz: b.fizzbuzz - a.fizzbuzz,
            value: b.value - a.value,
        }
    }

    pub fn add_counts(&mut self, other: &KindCounts) {
        self.fizz += other.fizz;
        self.buzz += other.buzz;
        self.fizzbuzz += other.fizzbuzz;
        self.value += other.value;
    }

    pub fn total(&self) -> u64 {
        self.fizz + self.buzz + self.fizzbuzz + self.value
    }

    /// The total, or None where stored counts would overflow adding up.
    pub fn checked_total(&self) -> Option<u64> {
        self.fizz
            .checked_add(self.buzz)?
            .checked_add(self.fizzbuzz)?
            .checked_add(self.value)
    }

    pub fn add(&mut self, kind: Kind) {
        match kind {
            Kind::Value => self.value += 1,
            Kind::Fizz => self.fizz += 1,
            Kind::Buzz => self.buzz += 1,
            Kind::FizzBuzz => self.fizzbuzz += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    #[test]
    fn message_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<FizzBuzzMsg>(), 16);
    }

    #[test]
    fn cycle_table_matches_the_definition() {
        for v in 0..1000u64 {
            assert_eq!(CYCLE[phase_of(v)], classify(v), "value {v}");
        }
        for v in [u64::MAX, u64::MAX - 1, u64::MAX - 14, 1 << 63] {
            assert_eq!(CYCLE[phase_of(v)], classify(v), "value {v}");
        }
    }

    #[test]
    fn zero_is_fizzbuzz_and_small_values_classify() {
        assert_eq!(classify(0), Kind::FizzBuzz);
        assert_eq!(classify(1), Kind::Value);
        assert_eq!(classify(3), Kind::Fizz);
        assert_eq!(classify(5), Kind::Buzz);
        assert_eq!(classify(15), Kind::FizzBuzz);
        assert_eq!(classify(98), Kind::Value);
    }

    #[test]
    fn closed_form_matches_counting_for_every_small_n() {
        let mut counted = KindCounts::default();
        for n in 0..3000u64 {
            assert_eq!(KindCounts::closed_form(n), counted, "n = {n}");
            counted.add(classify(n));
        }
    }

    #[test]
    fn closed_form_at_a_large_n() {
        let n = 2_048_000_000u64;
        let c = KindCounts::closed_form(n);
        assert_eq!(c.total(), n);
        assert_eq!(c.fizzbuzz, n.div_ceil(15));
    }

    fn classify_all(src: &[u64]) -> Vec<FizzBuzzMsg> {
        let mut dst = vec![MaybeUninit::uninit(); src.len()];
        classify_into(src, &mut dst);
        dst.into_iter()
            .map(|m| unsafe { m.assume_init() })
            .collect()
    }

    #[test]
    fn classify_into_fast_path_equals_slow_path() {
        for start in [0u64, 1, 7, 14, 15, 1_000_003] {
            for len in [0u64, 1, 14, 15, 16, 29, 30, 300] {
                let src: Vec<u64> = (start..start + len).collect();
                let expected: Vec<FizzBuzzMsg> = src.iter().map(|&v| FizzBuzzMsg::new(v)).collect();
                assert_eq!(classify_all(&src), expected, "start {start} len {len}");
            }
        }
    }

    #[test]
    fn exact_runs_are_recognised_at_every_phase_and_length() {
        for first in 0..40u64 {
            for len in 0..50u64 {
                let msgs: Vec<FizzBuzzMsg> = (first..first + len).map(FizzBuzzMsg::new).collect();
                assert!(is_exact_run(&msgs, first), "first {first} len {len}");
                for k in 0..len as usize {
                    let mut bad = msgs.clone();
                    bad[k].kind = if bad[k].kind == Kind::Value {
                        Kind::Fizz
                    } else {
                        Kind::Value
                    };
                    assert!(
                        !is_exact_run(&bad, first),
                        "kind at {k}, first {first} len {len}"
                    );
                    let mut bad = msgs.clone();
                    bad[k].value ^= 1 << 40;
                    assert!(
                        !is_exact_run(&bad, first),
                        "value at {k}, first {first} len {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn counts_of_a_range_match_counting() {
        for start in 0..60u64 {
            for end in start..start + 60 {
                let mut counted = KindCounts::default();
                (start..end).for_each(|v| counted.add(classify(v)));
                assert_eq!(
                    KindCounts::of_range(start, end),
                    counted,
                    "[{start}, {end})"
                );
            }
        }
    }

    #[test]
    fn classify_into_handles_gaps_and_repeats() {
        let src = vec![7u64, 8, 8, 30, 2, 45, 46];
        let expected: Vec<FizzBuzzMsg> = src.iter().map(|&v| FizzBuzzMsg::new(v)).collect();
        assert_eq!(classify_all(&src), expected);
        assert!(classify_all(&[]).is_empty());
    }
}
