//! The sink's end of the link: the receiver actor's [`ValueLink`] over
//! Aeron. DATA and HELLO frames come in on the data stream, the sink's
//! orders go out on the control stream; [`Intake`] decides.

use crate::pipeline::{LinkLost, LinkReport, ValueLink};
use crate::pods::protocol::{Intake, Take};
use crate::pods::transport::{Inlet, Lost, Outlet};
use crate::pods::wire::{self, Frame, Order};
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::Instant;

/// Frames read per poll: enough to fill the window in a few polls.
const FRAGMENTS: i32 = 64;

pub struct SinkLink {
    intake: Intake,
    data: Inlet,
    orders: Arc<Outlet>,
}

impl SinkLink {
    pub fn new(intake: Intake, data: Inlet, orders: Arc<Outlet>) -> Self {
        SinkLink {
            intake,
            data,
            orders,
        }
    }
}

fn lost(e: Lost) -> LinkLost {
    LinkLost(e.to_string())
}

/// Sends `order`; one that cannot go now is repeated by the keepalive.
pub fn send(orders: &Outlet, order: &Order) -> Result<(), Lost> {
    let mut bytes = wire::order(order);
    orders.offer(&mut bytes).map(|_| ())
}

/// Writes the first `count` values of `values` (a DATA frame's value
/// bytes) into the two parts of `out` from `at`.
fn write_values(out: &mut [&mut [MaybeUninit<u64>]; 2], at: usize, values: &[u8], count: usize) {
    let first_len = out[0].len();
    for i in 0..count {
        let v = wire::value_at(values, i);
        let slot = at + i;
        if slot < first_len {
            out[0][slot].write(v);
        } else {
            out[1][slot - first_len].write(v);
        }
    }
}

impl ValueLink for SinkLink {
    fn pull(&mut self, mut out: [&mut [MaybeUninit<u64>]; 2]) -> Result<usize, LinkLost> {
        let room = out[0].len() + out[1].len();
        let mut written = 0;
        let now = Instant::now();
        let intake = &mut self.intake;
        self.data
            .poll(FRAGMENTS, |bytes| match wire::decode(bytes) {
                Ok(Frame::Hello(h)) => intake.on_hello(h, now),
                Ok(Frame::Data(h, values)) => {
                    if let Take::Values(count) = intake.on_data(h, room - written, now) {
                        write_values(&mut out, written, values, count);
                        written += count;
                    }
                }
                Ok(Frame::Order(_)) | Err(_) => intake.on_bad_frame(),
            })
            .map_err(lost)?;
        Ok(written)
    }

    fn tend(&mut self, room: u64, committed: u64) -> Result<(), LinkLost> {
        self.intake.committed(committed);
        if let Some(order) = self.intake.due(room, Instant::now()) {
            send(&self.orders, &order).map_err(lost)?;
        }
        Ok(())
    }

    fn resume_from(&mut self, position: u64) {
        self.intake.resume_from(position);
    }

    fn report(&self) -> LinkReport {
        let c = self.intake.counts();
        LinkReport {
            next: self.intake.next(),
            duplicates: c.duplicates,
            discarded: c.discarded,
            resumes: c.resumes,
            serving: self.intake.source().is_some(),
        }
    }
}
