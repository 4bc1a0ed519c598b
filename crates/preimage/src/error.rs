use crate::PreimageKey;

/// What went wrong on a preimage or hint channel. Every variant says which frame and key.
#[derive(Debug, thiserror::Error)]
pub enum PreimageError {
    /// The channel failed (not an end of stream).
    #[error("{channel} channel: {source}")]
    Io {
        channel: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The other side closed the stream inside a frame.
    #[error("{channel} channel: truncated {what}: got {got} of {expected} bytes")]
    Truncated { channel: &'static str, what: &'static str, got: usize, expected: usize },
    /// The other side closed the stream where a frame should have started.
    #[error("{channel} channel closed by the other side")]
    Closed { channel: &'static str },
    /// A length prefix beyond the configured bound (checked before allocating).
    #[error("{what} of {length} bytes exceeds the limit of {limit}")]
    Oversized { what: &'static str, length: u64, limit: u64 },
    /// A key whose type byte is illegal or reserved.
    #[error("key 0x{key}: type {key_type} is {reason}")]
    BadKey { key: String, key_type: u8, reason: &'static str },
    /// A keccak256 or sha256 value that does not hash to its key.
    #[error("preimage for {key} does not hash to its key")]
    WrongPreimage { key: PreimageKey },
    /// The host has no value for a key.
    #[error("no preimage for {key}")]
    Missing { key: PreimageKey },
    /// A hint that does not parse.
    #[error("malformed hint `{hint}`: {reason}")]
    BadHint { hint: String, reason: String },
    /// The key-value directory is not usable.
    #[error("key-value directory {path}: {reason}")]
    Directory { path: String, reason: String },
}
