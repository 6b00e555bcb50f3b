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
}

impl FizzBuzzMsg {
    pub fn new(value: u64) -> Self {
        FizzBuzzMsg {
            value,
            kind: classify(value),
        }
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
/// path that walks [`CYCLE`] instead of dividing.
pub fn classify_into(src: &[u64], dst: &mut [std::mem::MaybeUninit<FizzBuzzMsg>]) {
    debug_assert_eq!(src.len(), dst.len());
    let Some(&first) = src.first() else { return };
    if is_consecutive(src, first) {
        let mut phase = phase_of(first);
        for (i, slot) in dst.iter_mut().enumerate() {
            slot.write(FizzBuzzMsg {
                value: first + i as u64,
                kind: CYCLE[phase],
            });
            phase = next_phase(phase);
        }
    } else {
        for (slot, &v) in dst.iter_mut().zip(src) {
            slot.write(FizzBuzzMsg::new(v));
        }
    }
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

    pub fn total(&self) -> u64 {
        self.fizz + self.buzz + self.fizzbuzz + self.value
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
        let src: Vec<u64> = (1_000_003..1_000_003 + 300).collect();
        let expected: Vec<FizzBuzzMsg> = src.iter().map(|&v| FizzBuzzMsg::new(v)).collect();
        assert_eq!(classify_all(&src), expected);
    }

    #[test]
    fn classify_into_handles_gaps_and_repeats() {
        let src = vec![7u64, 8, 8, 30, 2, 45, 46];
        let expected: Vec<FizzBuzzMsg> = src.iter().map(|&v| FizzBuzzMsg::new(v)).collect();
        assert_eq!(classify_all(&src), expected);
        assert!(classify_all(&[]).is_empty());
    }
}
