//! The preimage exchange: `client → host: key (32)`, `host → client: length (u64 BE) ‖ value`.

use crate::{
    io::{read_exact, read_frame_part, write_all},
    Limits, PreimageError, PreimageKey,
};
use std::io::{Read, Write};

const CHANNEL: &str = "preimage";

/// The client half: asks for preimages and checks every keccak256 / sha256 value against its key.
#[derive(Debug)]
pub struct OracleClient<R, W> {
    reader: R,
    writer: W,
    limits: Limits,
    /// Requests made, for determinism checks and reports.
    requests: u64,
    bytes: u64,
}

impl<R: Read, W: Write> OracleClient<R, W> {
    /// A client reading replies from `reader` and writing keys to `writer`.
    pub fn new(reader: R, writer: W, limits: Limits) -> Self {
        Self { reader, writer, limits, requests: 0, bytes: 0 }
    }

    /// The value of `key`. A value that does not hash to its key is an error, never returned.
    pub fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        write_all(&mut self.writer, key.as_bytes(), CHANNEL)?;
        let mut length = [0u8; 8];
        if !read_frame_part(&mut self.reader, &mut length, CHANNEL, "length prefix")? {
            // The host closes the stream when it cannot serve a key.
            return Err(PreimageError::Missing { key });
        }
        let length = u64::from_be_bytes(length);
        if length > self.limits.max_value {
            return Err(PreimageError::Oversized { what: "preimage", length, limit: self.limits.max_value });
        }
        let mut value = vec![0u8; length as usize];
        read_exact(&mut self.reader, &mut value, CHANNEL, "preimage value")?;
        if !key.matches(&value) {
            return Err(PreimageError::WrongPreimage { key });
        }
        self.requests += 1;
        self.bytes += length;
        Ok(value)
    }

    /// (requests answered, value bytes received)
    pub fn stats(&self) -> (u64, u64) {
        (self.requests, self.bytes)
    }
}

/// The host half: answers keys read from `reader` with `fetch(key)` until the client closes the stream
/// (`Ok(served)`). When `fetch` has no value (`Ok(None)`) or fails, the host stops serving (the caller closes the
/// stream) and returns the error: it never answers with made-up bytes. Values that do not hash to their key are
/// refused the same way (a broken source must not reach the client).
pub fn serve_preimages<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    limits: Limits,
    mut fetch: impl FnMut(PreimageKey) -> Result<Option<Vec<u8>>, PreimageError>,
) -> Result<u64, PreimageError> {
    let mut served = 0;
    loop {
        let mut raw = [0u8; 32];
        if !read_frame_part(&mut reader, &mut raw, CHANNEL, "key")? {
            return Ok(served);
        }
        let key = PreimageKey::from_bytes(raw)?;
        let value = fetch(key)?.ok_or(PreimageError::Missing { key })?;
        if value.len() as u64 > limits.max_value {
            return Err(PreimageError::Oversized {
                what: "preimage",
                length: value.len() as u64,
                limit: limits.max_value,
            });
        }
        if !key.matches(&value) {
            return Err(PreimageError::WrongPreimage { key });
        }
        let mut frame = Vec::with_capacity(8 + value.len());
        frame.extend_from_slice(&(value.len() as u64).to_be_bytes());
        frame.extend_from_slice(&value);
        write_all(&mut writer, &frame, CHANNEL)?;
        served += 1;
    }
}
