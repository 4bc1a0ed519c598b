//! The hint exchange: `client → host: length (u32 BE) ‖ "<type> 0x<hex>"`, `host → client: 0x00`.

use crate::{
    io::{read_exact, read_frame_part, write_all},
    Limits, PreimageError,
};
use alloy_primitives::hex;
use std::io::{Read, Write};

const CHANNEL: &str = "hint";

/// keel's hint types, each with its fixed payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HintType {
    /// `header <block hash>`
    Header,
    /// `transactions <block hash>`
    Transactions,
    /// `receipts <block hash>`
    Receipts,
    /// `code <code hash>`
    Code,
    /// `state-node <node hash>`
    StateNode,
    /// `account-proof <block hash ‖ address>`
    AccountProof,
    /// `storage-proof <block hash ‖ address ‖ slot>`
    StorageProof,
    /// `block-witness <block hash>`: everything one block's execution needs.
    BlockWitness,
}

impl HintType {
    pub const ALL: [HintType; 8] = [
        HintType::Header,
        HintType::Transactions,
        HintType::Receipts,
        HintType::Code,
        HintType::StateNode,
        HintType::AccountProof,
        HintType::StorageProof,
        HintType::BlockWitness,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HintType::Header => "header",
            HintType::Transactions => "transactions",
            HintType::Receipts => "receipts",
            HintType::Code => "code",
            HintType::StateNode => "state-node",
            HintType::AccountProof => "account-proof",
            HintType::StorageProof => "storage-proof",
            HintType::BlockWitness => "block-witness",
        }
    }

    /// The payload's length in bytes.
    pub fn payload_len(self) -> usize {
        match self {
            HintType::AccountProof => 32 + 20,
            HintType::StorageProof => 32 + 20 + 32,
            _ => 32,
        }
    }
}

/// A parsed hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub kind: HintType,
    pub payload: Vec<u8>,
}

impl Hint {
    pub fn new(kind: HintType, payload: Vec<u8>) -> Result<Self, PreimageError> {
        if payload.len() != kind.payload_len() {
            return Err(PreimageError::BadHint {
                hint: format!("{} 0x{}", kind.name(), hex::encode(&payload)),
                reason: format!(
                    "payload is {} bytes, {} takes {}",
                    payload.len(),
                    kind.name(),
                    kind.payload_len()
                ),
            });
        }
        Ok(Self { kind, payload })
    }

    /// The wire text: `<type> 0x<lowercase hex>`.
    pub fn encode(&self) -> String {
        format!("{} 0x{}", self.kind.name(), hex::encode(&self.payload))
    }

    /// Parses the wire text, checking the type and the payload's length.
    pub fn parse(text: &str) -> Result<Self, PreimageError> {
        let bad = |reason: String| PreimageError::BadHint { hint: text.chars().take(200).collect(), reason };
        let (name, payload) =
            text.split_once(' ').ok_or_else(|| bad("no space between type and payload".into()))?;
        let kind = HintType::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| bad(format!("unknown hint type `{name}`")))?;
        let digits =
            payload.strip_prefix("0x").ok_or_else(|| bad("payload does not start with 0x".into()))?;
        if digits.len() != kind.payload_len() * 2 {
            return Err(bad(format!("{name} takes {} payload bytes", kind.payload_len())));
        }
        if digits.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("payload hex must be lowercase".into()));
        }
        let payload = hex::decode(digits).map_err(|e| bad(format!("payload: {e}")))?;
        Ok(Self { kind, payload })
    }
}

/// The client half of the hint channel.
#[derive(Debug)]
pub struct HintWriter<R, W> {
    reader: R,
    writer: W,
}

impl<R: Read, W: Write> HintWriter<R, W> {
    /// Reads acks from `reader`, writes hints to `writer`.
    pub fn new(reader: R, writer: W) -> Self {
        Self { reader, writer }
    }

    /// Sends `hint` and waits for the host's ack.
    pub fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        let text = hint.encode();
        let mut frame = Vec::with_capacity(4 + text.len());
        frame.extend_from_slice(&(text.len() as u32).to_be_bytes());
        frame.extend_from_slice(text.as_bytes());
        write_all(&mut self.writer, &frame, CHANNEL)?;
        let mut ack = [0u8; 1];
        read_exact(&mut self.reader, &mut ack, CHANNEL, "hint ack")?;
        Ok(())
    }
}

/// The host half: reads hints until the client closes the stream (`Ok(count)`), hands each to `on_hint` (the raw
/// text; a malformed or failing hint is the handler's to log) and always acknowledges with 0x00.
pub fn serve_hints<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    limits: Limits,
    mut on_hint: impl FnMut(&str),
) -> Result<u64, PreimageError> {
    let mut count = 0;
    loop {
        let mut length = [0u8; 4];
        if !read_frame_part(&mut reader, &mut length, CHANNEL, "hint length")? {
            return Ok(count);
        }
        let length = u32::from_be_bytes(length);
        if length > limits.max_hint {
            return Err(PreimageError::Oversized {
                what: "hint",
                length: u64::from(length),
                limit: u64::from(limits.max_hint),
            });
        }
        let mut text = vec![0u8; length as usize];
        read_exact(&mut reader, &mut text, CHANNEL, "hint")?;
        on_hint(&String::from_utf8_lossy(&text));
        write_all(&mut writer, &[0], CHANNEL)?;
        count += 1;
    }
}
