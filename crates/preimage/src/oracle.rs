//! The preimage exchange: `client → host: key (32)`, `host → client: length (u64 BE) ‖ value`.

use crate::{
    io::{read_exact, read_frame_part, write_all},
    Limits, PreimageError, PreimageKey,
};
use std::io::{BufReader, BufWriter, Read, Write};

const CHANNEL: &str = "preimage";

/// The most keys [`OracleClient::get_many`] writes before reading their replies: 128 keys are 4 KiB, which fits
/// in any pipe's buffer (one page), so writing a window never waits for the host — and the host, which only
/// stops reading while its replies wait to be read, can never be waiting for the client at the same time.
pub const PIPELINE_WINDOW: usize = 128;

/// The client half: asks for preimages and checks every keccak256 / sha256 value against its key.
#[derive(Debug)]
pub struct OracleClient<R, W> {
    /// Buffered: a reply's length prefix and value (and, pipelined, the next replies) come in one read.
    reader: BufReader<R>,
    writer: W,
    limits: Limits,
    /// Requests made, for determinism checks and reports.
    requests: u64,
    bytes: u64,
}

impl<R: Read, W: Write> OracleClient<R, W> {
    /// A client reading replies from `reader` and writing keys to `writer`.
    pub fn new(reader: R, writer: W, limits: Limits) -> Self {
        Self { reader: BufReader::with_capacity(64 * 1024, reader), writer, limits, requests: 0, bytes: 0 }
    }

    /// The value of `key`. A value that does not hash to its key is an error, never returned.
    pub fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        write_all(&mut self.writer, key.as_bytes(), CHANNEL)?;
        self.reply(key)
    }

    /// The values of `keys`, in order, with the requests pipelined: up to [`PIPELINE_WINDOW`] keys are written
    /// at once, then their replies read. The bytes on the wire are exactly those of one [`Self::get`] per key in
    /// the same order (any host that answers keys in order serves it); only the waiting between them goes. The
    /// first key the host cannot serve ends the call with its error, as [`Self::get`] would.
    pub fn get_many(&mut self, keys: &[PreimageKey]) -> Result<Vec<Vec<u8>>, PreimageError> {
        let mut values = Vec::with_capacity(keys.len());
        let mut request = Vec::with_capacity(PIPELINE_WINDOW.min(keys.len()) * 32);
        for window in keys.chunks(PIPELINE_WINDOW) {
            request.clear();
            for key in window {
                request.extend_from_slice(key.as_bytes());
            }
            write_all(&mut self.writer, &request, CHANNEL)?;
            for key in window {
                values.push(self.reply(*key)?);
            }
        }
        Ok(values)
    }

    /// Reads and checks the reply to `key`.
    fn reply(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
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
///
/// Keys that arrive together (a client pipelining its requests) are answered together: replies are buffered
/// while another whole key is already in hand, and flushed before every read that could wait.
pub fn serve_preimages<R: Read, W: Write>(
    reader: R,
    writer: W,
    limits: Limits,
    mut fetch: impl FnMut(PreimageKey) -> Result<Option<Vec<u8>>, PreimageError>,
) -> Result<u64, PreimageError> {
    let mut reader = BufReader::with_capacity(PIPELINE_WINDOW * 32, reader);
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut served = 0;
    loop {
        if reader.buffer().len() < 32 {
            writer.flush().map_err(|source| PreimageError::Io { channel: CHANNEL, source })?;
        }
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
        writer
            .write_all(&(value.len() as u64).to_be_bytes())
            .and_then(|()| writer.write_all(&value))
            .map_err(|source| PreimageError::Io { channel: CHANNEL, source })?;
        served += 1;
    }
}
