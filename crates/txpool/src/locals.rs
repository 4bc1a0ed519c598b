//! Local transactions, as go-ethereum ≥ 1.15 handles them: no exemptions inside the pool, but the node tracks the
//! transactions submitted through its RPC, journals them to disk, resubmits them when the pool dropped them
//! while they are still valid (a temporary rejection: the pool was full, the balance dipped), and restores them
//! after a restart.
//!
//! The journal is geth's format: a stream of RLP-encoded transactions (network encoding: a legacy transaction
//! as a list, a typed one as a string), appended to on every submission and rewritten from the tracked set every
//! `rejournal` interval through a temporary file and a rename. A corrupt or truncated tail (a crash mid-append)
//! ends the load with a warning; everything before it is kept.
//!
//! For an encrypted datadir the journal is sealed ([`TxJournal::sealed`]): each transaction's RLP is sealed by a
//! [`RecordSealer`] and written as `len u32 LE ‖ sealed bytes` after the magic `keel sealed txs v1\n`. A record
//! that fails to open (altered, or sealed under another key) ends the load with a warning, like a corrupt tail:
//! nothing unauthenticated reaches the pool.

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

/// Seals and opens journal records (encryption at rest; implemented by the store's cipher).
pub trait RecordSealer: Send + Sync + std::fmt::Debug {
    /// The sealed form of `record`.
    fn seal(&self, record: &[u8]) -> Vec<u8>;
    /// The record `sealed` holds, or `None` if it does not authenticate.
    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>>;
}

const SEALED_MAGIC: &[u8] = b"keel sealed txs v1\n";

/// The on-disk journal of local transactions.
#[derive(Debug)]
pub struct TxJournal {
    path: PathBuf,
    writer: Option<File>,
    sealer: Option<std::sync::Arc<dyn RecordSealer>>,
}

impl TxJournal {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), writer: None, sealer: None }
    }

    /// A journal whose records are sealed by `sealer`.
    pub fn sealed(path: impl Into<PathBuf>, sealer: std::sync::Arc<dyn RecordSealer>) -> Self {
        Self { path: path.into(), writer: None, sealer: Some(sealer) }
    }

    /// One transaction as it goes into the file.
    fn record(&self, tx: &TxEnvelope, out: &mut Vec<u8>) {
        match &self.sealer {
            None => tx.encode(out),
            Some(sealer) => {
                let mut plain = Vec::with_capacity(tx.length());
                tx.encode(&mut plain);
                let sealed = sealer.seal(&plain);
                out.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
                out.extend_from_slice(&sealed);
            }
        }
    }

    /// Decodes a sealed journal's records.
    fn load_sealed(&self, sealer: &dyn RecordSealer, bytes: &[u8]) -> Result<Vec<TxEnvelope>, JournalError> {
        let Some(mut buf) = bytes.strip_prefix(SEALED_MAGIC) else {
            return Err(
                self.error("not a sealed journal (the datadir is encrypted, so the journal must be too)")
            );
        };
        let mut txs = Vec::new();
        while !buf.is_empty() {
            let offset = bytes.len() - buf.len();
            let record = (buf.len() >= 4)
                .then(|| u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize)
                .filter(|len| buf.len() - 4 >= *len)
                .map(|len| (&buf[4..4 + len], len))
                .ok_or("truncated record")
                .and_then(|(sealed, len)| {
                    Ok((sealer.open(sealed).ok_or("record fails authentication")?, len))
                })
                .and_then(|(plain, len)| {
                    let tx = TxEnvelope::decode(&mut plain.as_slice())
                        .map_err(|_| "sealed record is not a transaction")?;
                    Ok((tx, len))
                });
            match record {
                Ok((tx, len)) => {
                    txs.push(tx);
                    buf = &buf[4 + len..];
                }
                Err(error) => {
                    tracing::warn!(
                        journal = %self.path.display(),
                        offset,
                        dropped_bytes = bytes.len() - offset,
                        error,
                        "sealed txpool journal ends in a bad record; keeping the {} transactions before it",
                        txs.len()
                    );
                    break;
                }
            }
        }
        Ok(txs)
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
        if let Some(sealer) = &self.sealer {
            if bytes.is_empty() {
                return Ok(Vec::new());
            }
            return self.load_sealed(&**sealer, &bytes);
        }
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
            let mut file = File::options()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| self.error(format!("open for append: {e}")))?;
            let empty = file.metadata().map_err(|e| self.error(format!("stat: {e}")))?.len() == 0;
            if empty && self.sealer.is_some() {
                file.write_all(SEALED_MAGIC).map_err(|e| self.error(format!("append: {e}")))?;
            }
            self.writer = Some(file);
        }
        let mut out = Vec::with_capacity(tx.length() + 64);
        self.record(tx, &mut out);
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
        if self.sealer.is_some() {
            out.extend_from_slice(SEALED_MAGIC);
        }
        let mut count = 0;
        for tx in txs {
            self.record(tx, &mut out);
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
