//! The client's view of the host: preimages by key, and hints.

use keel_preimage::{Hint, HintWriter, Limits, OracleClient, PreimageError, PreimageKey};
use std::io::{Read, Write};

/// A source of checked preimages (the client trusts nothing else).
pub trait Oracle {
    /// The value of `key`; keccak256 and sha256 values have been checked against their key.
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError>;
    /// The values of `keys` in order; an oracle behind a round trip asks for them all at once.
    fn get_many(&mut self, keys: &[PreimageKey]) -> Result<Vec<Vec<u8>>, PreimageError> {
        keys.iter().map(|key| self.get(*key)).collect()
    }
    /// Advice for the host (prefetching); never changes a value.
    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError>;
}

/// The oracle over the two channels of PREIMAGE.md (fds 3–6 in a client process).
#[derive(Debug)]
pub struct PipeOracle<HR, HW, PR, PW> {
    hints: HintWriter<HR, HW>,
    preimages: OracleClient<PR, PW>,
}

impl<HR: Read, HW: Write, PR: Read, PW: Write> PipeOracle<HR, HW, PR, PW> {
    pub fn new(hint_acks: HR, hints: HW, replies: PR, keys: PW, limits: Limits) -> Self {
        Self { hints: HintWriter::new(hint_acks, hints), preimages: OracleClient::new(replies, keys, limits) }
    }

    /// (preimages received, value bytes)
    pub fn stats(&self) -> (u64, u64) {
        self.preimages.stats()
    }
}

impl<HR: Read, HW: Write, PR: Read, PW: Write> Oracle for PipeOracle<HR, HW, PR, PW> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        self.preimages.get(key)
    }

    fn get_many(&mut self, keys: &[PreimageKey]) -> Result<Vec<Vec<u8>>, PreimageError> {
        self.preimages.get_many(keys)
    }

    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        self.hints.hint(hint)
    }
}
