//! The protocol under faults, simulated: a source and a sink exchange the
//! real frames through queues that behave as Aeron's do (each publisher's
//! frames in order; a dead publisher's last frames delivered or not), and
//! either side is killed and started again at random. Whatever happens,
//! the sink takes exactly the next position every time, and the run gets
//! to its end.

use crate::pods::protocol::{Feed, FeedState, Intake, KEEPALIVE, SILENCE, Take};
use crate::pods::wire::{self, Frame};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One publisher's frames in flight: ordered, never duplicated.
struct Session {
    frames: VecDeque<Vec<u8>>,
    alive: bool,
}

struct World {
    rng: fastrand::Rng,
    now: Instant,
    data: Vec<Session>,
    control: Vec<Session>,
    source: Option<Feed>,
    sink: Option<Intake>,
    /// The sink's "values channel": how many it holds for the worker.
    held: u64,
    /// What the sink has made durable (its cut) and what it counted.
    committed: u64,
    counted: u64,
    end: u64,
    window: u64,
    kills: [u32; 2],
}

impl World {
    fn new(seed: u64, end: u64) -> World {
        World {
            rng: fastrand::Rng::with_seed(seed),
            now: Instant::now(),
            data: vec![Session {
                frames: VecDeque::new(),
                alive: true,
            }],
            control: vec![Session {
                frames: VecDeque::new(),
                alive: true,
            }],
            source: Some(Feed::new(1)),
            sink: Some(Intake::new(100, 0, end)),
            held: 0,
            committed: 0,
            counted: 0,
            end,
            window: 5000,
            kills: [0; 2],
        }
    }

    /// Delivers up to `n` frames of `queues`, publishers interleaved.
    fn deliver(rng: &mut fastrand::Rng, queues: &mut [Session], n: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for _ in 0..n {
            let ready: Vec<usize> = (0..queues.len())
                .filter(|&i| !queues[i].frames.is_empty())
                .collect();
            if ready.is_empty() {
                break;
            }
            let i = ready[rng.usize(0..ready.len())];
            out.extend(queues[i].frames.pop_front());
        }
        out
    }

    fn step(&mut self) {
        self.now += Duration::from_micros(self.rng.u64(100..2000));
        let now = self.now;
        // The source reads orders, says hello, sends what it may.
        if let Some(feed) = &mut self.source {
            for bytes in Self::deliver(&mut self.rng, &mut self.control, 8) {
                if let Ok(Frame::Order(o)) = wire::decode(&bytes) {
                    feed.on_order(o, now);
                }
            }
            let out = self.data.last_mut().expect("a live session");
            if let Some(h) = feed.hello_due(now) {
                out.frames.push_back(wire::hello(h).to_vec());
            }
            for _ in 0..self.rng.usize(0..4) {
                let Some((epoch, first, count)) = feed.next_frame(700) else {
                    break;
                };
                let mut buf = Vec::new();
                wire::data(&mut buf, feed.nonce(), epoch, first, count);
                out.frames.push_back(buf);
                feed.sent(count, now);
            }
        }
        // The sink takes what continues its stream, within its room.
        if let Some(intake) = &mut self.sink {
            for bytes in Self::deliver(&mut self.rng, &mut self.data, 8) {
                match wire::decode(&bytes) {
                    Ok(Frame::Hello(h)) => intake.on_hello(h, now),
                    Ok(Frame::Data(h, values)) => {
                        let room = (self.window - self.held) as usize;
                        if let Take::Values(n) = intake.on_data(h, room, now) {
                            for i in 0..n {
                                let v = wire::value_at(values, i);
                                assert_eq!(
                                    v,
                                    self.counted + self.held,
                                    "the sink took a value out of order"
                                );
                                self.held += 1;
                            }
                        }
                    }
                    other => panic!("unexpected frame {other:?}"),
                }
            }
            // The worker and logger count some of what is held; now and
            // then a cut is committed.
            let counted = self.rng.u64(0..=self.held.min(3000));
            self.held -= counted;
            self.counted += counted;
            if self.rng.u8(0..10) == 0 {
                self.committed = self.counted;
            }
            intake.committed(self.committed);
            if let Some(o) = intake.due(self.window - self.held, now) {
                self.control
                    .last_mut()
                    .expect("a live session")
                    .frames
                    .push_back(wire::order(&o).to_vec());
            }
        }
    }

    /// A publisher dies: its last frames may or may not arrive.
    fn kill(rng: &mut fastrand::Rng, sessions: &mut Vec<Session>) {
        let dead = sessions.last_mut().expect("a session");
        dead.alive = false;
        let keep = rng.usize(0..=dead.frames.len());
        dead.frames.truncate(keep);
        sessions.push(Session {
            frames: VecDeque::new(),
            alive: true,
        });
        sessions.retain(|s| s.alive || !s.frames.is_empty());
    }

    fn fault(&mut self) {
        match self.rng.u8(0..100) {
            0 => {
                // The source is killed and started again (a new nonce).
                Self::kill(&mut self.rng, &mut self.data);
                self.source = Some(Feed::new(self.rng.u64(2..)));
                self.kills[0] += 1;
            }
            1 => {
                // The sink is killed: it comes back at its durable cut.
                Self::kill(&mut self.rng, &mut self.control);
                self.counted = self.committed;
                self.held = 0;
                self.sink = Some(Intake::new(self.rng.u64(101..), self.committed, self.end));
                self.kills[1] += 1;
            }
            2 => {
                // Both are gone for a while.
                self.now += SILENCE + KEEPALIVE;
            }
            _ => {}
        }
    }
}

#[test]
fn under_kills_of_either_side_the_sink_takes_each_position_once_and_gets_to_the_end() {
    let mut kills = [0; 2];
    for seed in 0..40 {
        let end = 200_000;
        let mut w = World::new(seed, end);
        let mut steps = 0;
        while w.counted + w.held < end || w.held > 0 {
            w.step();
            if w.counted + w.held < end {
                w.fault();
            }
            steps += 1;
            assert!(
                steps < 200_000,
                "seed {seed}: stuck at {} of {end}",
                w.counted
            );
        }
        assert_eq!(w.counted, end, "seed {seed}");
        kills[0] += w.kills[0];
        kills[1] += w.kills[1];
        assert_eq!(w.source.as_ref().map(|f| f.state), Some(FeedState::Running));
    }
    // The faults did happen, many times over.
    assert!(kills[0] > 100 && kills[1] > 100, "{kills:?}");
}
