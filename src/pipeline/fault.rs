//! Deliberate panics for `--inject-panic`, placed where each actor is most
//! exposed so the restart path is exercised for real.

use crate::pipeline::names::ActorName;

/// Fires once each time a running count passes a multiple of `every`. It
/// lives in the actor's steady state, so the restarted actor does not fire
/// again at the point where its predecessor died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPoint {
    every: u64,
    next_at: u64,
}

impl FaultPoint {
    pub fn new(every: Option<u64>, start: u64) -> Self {
        match every {
            Some(every) if every > 0 => FaultPoint {
                every,
                next_at: (start / every + 1) * every,
            },
            _ => FaultPoint {
                every: 0,
                next_at: u64::MAX,
            },
        }
    }

    /// True when `count` has reached the next firing point.
    pub fn due(&mut self, count: u64) -> bool {
        if count < self.next_at {
            return false;
        }
        self.next_at = (count / self.every + 1) * self.every;
        true
    }
}

/// Panics with a message that says it was injected, so nobody hunts a bug.
pub fn inject(actor: ActorName, count: u64) -> ! {
    panic!("fizzflow: injected panic in {actor} at {count}; steady_state restarts it")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_multiple() {
        let mut f = FaultPoint::new(Some(100), 0);
        assert!(!f.due(99));
        assert!(f.due(100));
        assert!(!f.due(150));
        assert!(f.due(420));
        assert!(!f.due(499));
        assert!(f.due(500));
    }

    #[test]
    fn starts_after_the_resume_point_and_can_be_off() {
        let mut f = FaultPoint::new(Some(100), 250);
        assert!(!f.due(299));
        assert!(f.due(300));
        let mut off = FaultPoint::new(None, 0);
        assert!(!off.due(u64::MAX - 1));
    }
}
