//! How a checkpoint record and a launch row are stored (schemas 2 and 3):
//! bincode 2 (standard config) followed by the CRC-32 of those bytes,
//! little-endian. redb does not verify page checksums on every read, and a
//! value whose bytes changed on disk must not decode into different totals.

use serde::{Serialize, de::DeserializeOwned};

/// No stored value is near this; a damaged length prefix must not ask for
/// gigabytes before the checksum is even looked at.
const LIMIT: usize = 64 * 1024;

/// Why stored bytes are not a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{0} bytes is too short for a checksum")]
    TooShort(usize),
    #[error("its checksum does not match")]
    Checksum,
    #[error("it cannot be decoded ({0})")]
    Decode(String),
    #[error("it has {0} trailing bytes")]
    Trailing(usize),
}

pub fn seal(value: &impl Serialize) -> Vec<u8> {
    let mut body = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("a stored value always encodes");
    let sum = crc32fast::hash(&body);
    body.extend_from_slice(&sum.to_le_bytes());
    body
}

pub fn unseal<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let split = bytes
        .len()
        .checked_sub(4)
        .ok_or(CodecError::TooShort(bytes.len()))?;
    let (body, sum) = bytes.split_at(split);
    if crc32fast::hash(body).to_le_bytes() != sum {
        return Err(CodecError::Checksum);
    }
    let config = bincode::config::standard().with_limit::<LIMIT>();
    let (value, used) = bincode::serde::decode_from_slice(body, config)
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(value)
}
