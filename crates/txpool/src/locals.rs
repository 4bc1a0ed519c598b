//! Local transactions, as go-ethereum ≥ 1.15 handles them: no exemptions inside the pool, but the node tracks the
//! transactions submitted through its RPC, journals them to disk, resubmits them when the pool dropped them
//! while they are still valid (a temporary rejection: the pool was full, the balance dipped), and restores them
//! after a restart.
//!
//! The journal is geth's format: a stream of RLP-encoded transactions (network encoding: a legacy transaction
//! as a list, a typed one as a string), appended to on every submission and rewritten from the tracked set every
//! `rejournal` interval through a temporary file and a rename. A corrupt or truncated tail (a crash mid-append)
//! ends the load with a warning; everything before it is kept.

use alloy_consensus::TxEnvelope;
use alloy_primitives::{Address, B256};
use alloy_rlp::{Decodable, Encodable};
use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

/// Why the journal could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("txpool journal {path}: {reason}")]
pub struct JournalError {
    pub path: String,
    pub reason: String,
}

/// The on-disk journal of local transactions.
#[derive(Debug)]
pub struct TxJournal {
    path: PathBuf,
    writer: Option<File>,
}

impl TxJournal {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), writer: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, reason: impl std::fmt::Display) -> JournalError {
        JournalError { path: self.path.display().to_string(), reason: reason.to_string() }
    }

    /// Reads every transaction in the journal, stopping (with a warning) at a corrupt tail. A missing file is
    /// an empty journal.
    pub fn load(&self) -> Result<Vec<TxEnvelope>, JournalError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(format!("read: {e}"))),
        };
        let mut buf = bytes.as_slice();
        let mut txs = Vec::new();
        while !buf.is_empty() {
            let offset = bytes.len() - buf.len();
            match TxEnvelope::decode(&mut buf) {
                Ok(tx) => txs.push(tx),
                Err(e) => {
                    tracing::warn!(
                        journal = %self.path.display(),
                        offset,
                        dropped_bytes = bytes.len() - offset,
                        error = %e,
                        "txpool journal ends in a corrupt entry; keeping the {} transactions before it",
                        txs.len()
                    );
                    break;
                }
            }
        }
        Ok(txs)
    }

    /// Appends one transaction.
    pub fn insert(&mut self, tx: &TxEnvelope) -> Result<(), JournalError> {
        if self.writer.is_none() {
            let file = File::options()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| self.error(format!("open for append: {e}")))?;
            self.writer = Some(file);
        }
        let mut out = Vec::with_capacity(tx.length());
        tx.encode(&mut out);
        let result = self.writer.as_mut().map(|w| w.write_all(&out));
        match result {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(self.error(format!("append: {e}"))),
            None => Err(self.error("not open")),
        }
    }

    /// Rewrites the journal to hold exactly `txs` (through a temporary file and a rename, so a crash leaves the
    /// old journal or the new one).
    pub fn rotate<'a>(
        &mut self,
        txs: impl IntoIterator<Item = &'a TxEnvelope>,
    ) -> Result<usize, JournalError> {
        self.writer = None;
        let tmp = self.path.with_extension("new");
        let mut out = Vec::new();
        let mut count = 0;
        for tx in txs {
            tx.encode(&mut out);
            count += 1;
        }
        std::fs::write(&tmp, &out).map_err(|e| self.error(format!("write {}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| self.error(format!("rename {}: {e}", tmp.display())))?;
        Ok(count)
    }
}

/// The node's local transactions: what was submitted through RPC and is not yet mined.
#[derive(Debug, Default)]
pub struct LocalTracker {
    by_sender: BTreeMap<Address, BTreeMap<u64, TxEnvelope>>,
    hashes: HashMap<B256, (Address, u64)>,
}

impl LocalTracker {
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn contains(&self, hash: &B256) -> bool {
        self.hashes.contains_key(hash)
    }

    /// Tracks `tx` from `sender` (a later transaction with the same nonce replaces it, as in the pool).
    pub fn track(&mut self, sender: Address, tx: TxEnvelope) {
        use alloy_consensus::Transaction;
        let nonce = tx.nonce();
        let hash = *tx.tx_hash();
        if let Some(old) = self.by_sender.entry(sender).or_default().insert(nonce, tx) {
            self.hashes.remove(old.tx_hash());
        }
        self.hashes.insert(hash, (sender, nonce));
    }

    /// Forgets the transactions whose nonces the chain has passed (`nonce(sender)` is the state nonce).
    pub fn prune(&mut self, nonce: impl Fn(Address) -> u64) -> usize {
        let mut pruned = 0;
        self.by_sender.retain(|sender, txs| {
            let next = nonce(*sender);
            let keep = txs.split_off(&next);
            for tx in txs.values() {
                self.hashes.remove(tx.tx_hash());
                pruned += 1;
            }
            *txs = keep;
            !txs.is_empty()
        });
        pruned
    }

    /// Every tracked transaction with its sender, by sender and nonce.
    pub fn all(&self) -> impl Iterator<Item = (Address, &TxEnvelope)> {
        self.by_sender.iter().flat_map(|(sender, txs)| txs.values().map(move |tx| (*sender, tx)))
    }
}
