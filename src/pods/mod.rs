//! The pipeline split across two processes over Aeron.
//!
//! `driver` (cargo feature `pods`): the Aeron media driver, Aeron's own C
//! driver embedded, that the two processes talk through.

#[cfg(feature = "pods")]
pub(crate) mod driver;
