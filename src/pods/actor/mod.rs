//! The pods' own actors: one per file, each a thin `run` and an
//! `internal_behavior` that tests drive.

pub mod sender;
