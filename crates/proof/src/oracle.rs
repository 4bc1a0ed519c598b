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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Counts the writes through it.
    struct Counting<W>(W, std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl<W: Write> Write for Counting<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    /// The pipe oracle's `get_many` pipelines (one write for a window of keys), and returns the values in order.
    #[test]
    fn pipe_oracle_pipelines_get_many() {
        let values: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; 100]).collect();
        let keys: Vec<PreimageKey> = values.iter().map(|v| PreimageKey::keccak(v)).collect();
        let served = values.clone();
        let (key_read, key_write) = std::io::pipe().unwrap();
        let (reply_read, reply_write) = std::io::pipe().unwrap();
        let host = std::thread::spawn(move || {
            keel_preimage::serve_preimages(key_read, reply_write, Limits::default(), |k| {
                Ok(served.iter().find(|v| PreimageKey::keccak(v) == k).cloned())
            })
        });
        let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut oracle = PipeOracle::new(
            Cursor::new(Vec::new()),
            Vec::new(),
            reply_read,
            Counting(key_write, writes.clone()),
            Limits::default(),
        );
        assert_eq!(oracle.get_many(&keys).unwrap(), values);
        assert_eq!(writes.load(std::sync::atomic::Ordering::Relaxed), 1);
        drop(oracle);
        assert_eq!(host.join().unwrap().unwrap(), 50);
    }
}
