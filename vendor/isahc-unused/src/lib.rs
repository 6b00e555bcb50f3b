//! A stand-in for isahc, put in place by fizzflow's `[patch.crates-io]`.
//!
//! steady_state 0.3.1 lists isahc as a build dependency for one download
//! (viz-lite.js, in `ensure_viz_lite_gz_in_out_dir`), made only with its
//! `telemetry_server_builtin` feature, which fizzflow leaves off. The call
//! is still compiled, so it needs a `get` and a body to read; the real
//! isahc would bring curl and OpenSSL (a C compiler and headers) into every
//! fresh build for it. Here every request fails, with a message saying why.

use std::fmt;

/// Fails: this build has no HTTP client.
pub fn get<U>(_uri: U) -> Result<Response, Error> {
    Err(Error)
}

/// No response is ever made (the type has no values).
pub enum Response {}

impl Response {
    pub fn body_mut(&mut self) -> &mut std::io::Empty {
        match *self {}
    }
}

/// Why a request failed: always the same reason.
#[derive(Debug)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "no HTTP client in this build: fizzflow replaces isahc with a stub \
             (vendor/isahc-unused), so steady_state's `telemetry_server_builtin` \
             feature, which downloads viz-lite.js at build time, cannot be used",
        )
    }
}

impl std::error::Error for Error {}

