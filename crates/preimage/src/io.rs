//! Exact reads that tell a clean end of stream (at a frame boundary) from a truncated frame.

use crate::PreimageError;
use std::io::{ErrorKind, Read, Write};

/// Fills `buf`. `Ok(false)`: the stream ended before the first byte (a clean end, if the caller is at a frame
/// boundary). A stream that ends after some bytes is [`PreimageError::Truncated`].
pub(crate) fn read_frame_part(
    reader: &mut impl Read,
    buf: &mut [u8],
    channel: &'static str,
    what: &'static str,
) -> Result<bool, PreimageError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(PreimageError::Truncated { channel, what, got: filled, expected: buf.len() })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => return Err(PreimageError::Io { channel, source }),
        }
    }
    Ok(true)
}

/// Fills `buf`; any end of stream is an error (`Closed` before the first byte, `Truncated` after).
pub(crate) fn read_exact(
    reader: &mut impl Read,
    buf: &mut [u8],
    channel: &'static str,
    what: &'static str,
) -> Result<(), PreimageError> {
    if buf.is_empty() || read_frame_part(reader, buf, channel, what)? {
        return Ok(());
    }
    Err(PreimageError::Truncated { channel, what, got: 0, expected: buf.len() })
}

pub(crate) fn write_all(
    writer: &mut impl Write,
    bytes: &[u8],
    channel: &'static str,
) -> Result<(), PreimageError> {
    writer
        .write_all(bytes)
        .and_then(|()| writer.flush())
        .map_err(|source| PreimageError::Io { channel, source })
}
