//! Yardsticks for `fizzflow bench`, with no actor framework:
//!
//! - [`plain_threads`]: the same three stages on std threads joined by
//!   `rtrb` bounded SPSC ring buffers, copying in batches, with the same
//!   classification and verification code as the pipeline;
//! - [`fused`]: the physical limit, one thread that generates, classifies
//!   and counts in one loop, no channels at all.

use crate::pipeline::message::{
    CYCLE, FizzBuzzMsg, Kind, KindCounts, classify_into, is_exact_run, next_phase,
};
use crate::pipeline::ring;
use std::time::Instant;

/// What a baseline run produced, for the same checks as a real run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaselineRun {
    pub messages: u64,
    pub counts: KindCounts,
    pub secs: f64,
}

impl BaselineRun {
    pub fn msgs_per_sec(&self) -> f64 {
        self.messages as f64 / self.secs
    }
}

/// Generator → worker → logger on three threads, `capacity`-slot queues,
/// batches of at most `batch` items per queue operation. Waiting is
/// spin-then-yield, the fastest choice when every stage is busy.
pub fn plain_threads(messages: u64, capacity: usize, batch: usize) -> BaselineRun {
    let (mut values_tx, mut values_rx) = rtrb::RingBuffer::<u64>::new(capacity);
    let (mut msgs_tx, mut msgs_rx) = rtrb::RingBuffer::<FizzBuzzMsg>::new(capacity);
    let started = Instant::now();
    let generator = std::thread::spawn(move || {
        let mut next = 0u64;
        while next < messages {
            let n = values_tx.slots().min(batch).min((messages - next) as usize);
            if n == 0 {
                std::thread::yield_now();
                continue;
            }
            let mut chunk = values_tx.write_chunk_uninit(n).expect("slots were counted");
            let first = next;
            ring::fill_parts(chunk.as_mut_slices(), n, |piece, offset| {
                for (i, slot) in piece.iter_mut().enumerate() {
                    slot.write(first + (offset + i) as u64);
                }
            });
            // SAFETY: all n slots were written just above.
            unsafe { chunk.commit_all() };
            next += n as u64;
        }
    });
    let worker = std::thread::spawn(move || {
        let mut moved = 0u64;
        while moved < messages {
            let n = values_rx.slots().min(msgs_tx.slots()).min(batch);
            if n == 0 {
                std::thread::yield_now();
                continue;
            }
            let input = values_rx.read_chunk(n).expect("slots were counted");
            let mut output = msgs_tx.write_chunk_uninit(n).expect("slots were counted");
            ring::zip_parts(input.as_slices(), output.as_mut_slices(), n, classify_into);
            // SAFETY: zip_parts wrote all n output slots.
            unsafe { output.commit_all() };
            input.commit_all();
            moved += n as u64;
        }
    });
    let mut counts = KindCounts::default();
    let mut next = 0u64;
    let mut verified = true;
    while next < messages {
        let n = msgs_rx.slots().min(batch);
        if n == 0 {
            std::thread::yield_now();
            continue;
        }
        let chunk = msgs_rx.read_chunk(n).expect("slots were counted");
        let (a, b) = chunk.as_slices();
        verified &= is_exact_run(a, next) && is_exact_run(b, next + a.len() as u64);
        counts.add_counts(&KindCounts::of_range(next, next + n as u64));
        chunk.commit_all();
        next += n as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    generator.join().expect("generator thread");
    worker.join().expect("worker thread");
    assert!(
        verified,
        "the plain-threads baseline delivered a wrong message"
    );
    BaselineRun {
        messages,
        counts,
        secs,
    }
}

/// One thread, one loop: the value, its kind, its count. The kinds come from
/// walking the 15-entry table, as the pipeline's fast paths do.
pub fn fused(messages: u64) -> BaselineRun {
    let started = Instant::now();
    let (mut fizz, mut buzz, mut fizzbuzz, mut value) = (0u64, 0u64, 0u64, 0u64);
    let mut phase = 0usize;
    let mut checksum = 0u64;
    for v in 0..messages {
        let msg = FizzBuzzMsg::with_kind(v, CYCLE[phase]);
        match msg.kind {
            Kind::Fizz => fizz += 1,
            Kind::Buzz => buzz += 1,
            Kind::FizzBuzz => fizzbuzz += 1,
            Kind::Value => value += 1,
        }
        checksum = checksum.wrapping_add(msg.value);
        phase = next_phase(phase);
    }
    let secs = started.elapsed().as_secs_f64();
    // Keeps the loop from being folded away: the sum of 0..n is known.
    assert_eq!(checksum, sum_below(messages));
    BaselineRun {
        messages,
        counts: KindCounts {
            fizz,
            buzz,
            fizzbuzz,
            value,
        },
        secs,
    }
}

/// 0 + 1 + … + (n − 1), wrapping like the loop's sum.
fn sum_below(n: u64) -> u64 {
    if n.is_multiple_of(2) {
        (n / 2).wrapping_mul(n.wrapping_sub(1))
    } else {
        n.wrapping_mul((n - 1) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_baselines_count_the_closed_form() {
        for n in [0u64, 1, 1000, 100_003] {
            let plain = plain_threads(n, 8192, 256);
            assert_eq!(plain.counts, KindCounts::closed_form(n), "plain, n = {n}");
            let fused = fused(n);
            assert_eq!(fused.counts, KindCounts::closed_form(n), "fused, n = {n}");
        }
    }
}
