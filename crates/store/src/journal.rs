//! [`JournalKv`]: a write-ahead journal and an in-memory overlay in front of a slower, durable [`Kv`].
//!
//! A dev chain commits a block per transaction. Writing each block straight into redb costs a copy-on-write of
//! every B-tree page it touches plus an fsync, and that cost grows with the size of the tables (trie nodes are
//! keyed by hash, so every block lands on pages all over the file). Here a block's batch is instead appended to
//! a journal file (one `write`, no fsync) and applied to an in-memory overlay that reads consult first. When the
//! journal is big or old enough ([`CheckpointPolicy`]), a background thread *checkpoints*: it freezes the live
//! layer (renaming its journal to `*.journal-frozen` and starting an empty one for new writes), writes the frozen
//! layer into the inner store in one durable transaction, then drops the layer and its journal. Writers never
//! wait for a checkpoint.
//!
//! Guarantees:
//! - A batch is in the journal file before [`Kv::write`] returns, so it survives the process being killed
//!   (`kill -9`): the operating system holds the written bytes. Losing power can lose the batches written since
//!   the last checkpoint, never more, and never leaves a half-applied batch.
//! - Re-opening replays the frozen journal, then the live one, over the inner store. A torn record at the end
//!   (a write cut short by a crash) fails its CRC and is dropped with a warning: its `write` never returned.
//!   Replaying records that a checkpoint had already applied is harmless, as applying the same ordered puts and
//!   deletes again gives the same tables.
//! - Snapshots stay consistent: a reader takes the layers (persistent maps, cloned in O(1)) and the inner
//!   snapshot under one lock, and a checkpoint drops a layer only after the inner store holds its values.
//!
//! Record layout (all integers little-endian): `len: u32, crc32(payload): u32, payload`, where the payload is
//! `count: u32` then per operation `kind: u8 (0 put, 1 delete), table: u8, key_len: u32, key` and for a put
//! `value_len: u32, value`. The file starts with the 16-byte magic `keel journal v1\n`.
//!
//! Sealed (an encrypted datadir, [`JournalKv::open_sealed`]): the file starts with `keel journal s1\n`, and each
//! record's payload is sealed whole by a [`RecordCipher`] with the record's index in the file as associated
//! data (the CRC covers the sealed bytes), so one AEAD per block instead of one per entry; the layers hold
//! plain values in memory, and the inner store (an [`crate::EncryptedKv`]) seals entry by entry when the
//! checkpoint thread writes them. A record whose CRC holds but which fails authentication was altered: the
//! journal is refused with an integrity error instead of being replayed.

use crate::{kv::table_key, Kv, KvRead, RecordCipher, StoreError, Table, WriteBatch, WriteOp};
use imbl::OrdMap;
use std::{
    fs::File,
    io::{Seek, SeekFrom, Write},
    ops::Bound,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Condvar, Mutex, RwLock,
    },
    time::{Duration, Instant},
};

const MAGIC: &[u8; 16] = b"keel journal v1\n";
const SEALED_MAGIC: &[u8; 16] = b"keel journal s1\n";
const PUT: u8 = 0;
const DELETE: u8 = 1;

/// Table byte ‖ key → value (`None`: deleted).
type Overlay = OrdMap<Arc<[u8]>, Option<Arc<[u8]>>>;
/// One overlay entry.
type Entry = (Arc<[u8]>, Option<Arc<[u8]>>);

/// When the overlay is written into the inner store.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    /// Checkpoint once the journal holds this many bytes.
    pub max_bytes: u64,
    /// Checkpoint at the first write after the oldest unwritten batch is this old.
    pub max_age: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, max_age: Duration::from_secs(2) }
    }
}

#[derive(Debug)]
struct Journal {
    file: File,
    path: PathBuf,
    /// Bytes in the file (header included).
    len: u64,
    /// When the oldest batch not yet checkpointed was written.
    oldest: Option<Instant>,
    /// Set when an append failed and the file could not be cut back: further writes are refused.
    broken: Option<String>,
    /// Seals record payloads (an encrypted datadir).
    sealer: Option<Arc<RecordCipher>>,
    /// Records in the file (the next record's index, bound into its seal).
    records: u64,
}

impl Journal {
    fn error(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Journal { path: self.path.display().to_string(), reason: reason.to_string() }
    }

    fn append(&mut self, record: &[u8]) -> Result<(), StoreError> {
        if let Some(reason) = &self.broken {
            return Err(
                self.error(format!("an earlier append failed ({reason}); restart the node to recover"))
            );
        }
        if let Err(e) = self.file.write_all(record) {
            // Cut a partial record off so later records stay readable; if even that fails, stop writing.
            let cut = self.file.set_len(self.len).and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
            if let Err(cut) = cut {
                self.broken = Some(format!("{e}; truncating back failed: {cut}"));
            }
            return Err(self.error(format!("append failed: {e}")));
        }
        self.len += record.len() as u64;
        self.records += 1;
        self.oldest.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// `encode_record`'s output with its payload sealed, if this journal seals.
    fn frame(&self, mut record: Vec<u8>) -> Vec<u8> {
        let Some(sealer) = &self.sealer else { return record };
        let sealed = sealer.seal_with(&record[8..], &self.records.to_le_bytes());
        record.truncate(8);
        record[..4].copy_from_slice(&(sealed.len() as u32).to_le_bytes());
        record[4..8].copy_from_slice(&crc32fast::hash(&sealed).to_le_bytes());
        record.extend_from_slice(&sealed);
        record
    }

    /// Empties the journal after a checkpoint.
    fn reset(&mut self) -> Result<(), StoreError> {
        self.file.set_len(MAGIC.len() as u64).map_err(|e| self.error(format!("truncate: {e}")))?;
        self.file.seek(SeekFrom::Start(MAGIC.len() as u64)).map_err(|e| self.error(format!("seek: {e}")))?;
        self.len = MAGIC.len() as u64;
        self.records = 0;
        self.oldest = None;
        Ok(())
    }
}

/// The in-memory layers above the inner store: `live` takes new writes; `frozen` is being checkpointed.
#[derive(Debug, Clone, Default)]
struct Layers {
    live: Overlay,
    frozen: Option<Overlay>,
}

#[derive(Debug)]
struct Shared {
    inner: Box<dyn Kv>,
    layers: RwLock<Layers>,
    /// Also serialises writers.
    journal: Mutex<Journal>,
    /// Wakes the checkpoint thread (with the `journal` mutex).
    wake: Condvar,
    stop: AtomicBool,
    policy: CheckpointPolicy,
    /// The journal of the batches being checkpointed (renamed away from `journal.path`).
    frozen_path: PathBuf,
}

/// A [`Kv`] that journals writes and checkpoints them into `inner` from a background thread (see the module
/// docs).
#[derive(Debug)]
pub struct JournalKv {
    shared: Arc<Shared>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Poisoned { table: "journal", reason: "lock poisoned by a panicked writer".into() }
}

/// Encodes a batch as one journal record (header included).
fn encode_record(batch: &WriteBatch) -> Vec<u8> {
    let size: usize = batch
        .ops
        .iter()
        .map(|op| match op {
            WriteOp::Put { key, value, .. } => 10 + key.len() + value.len(),
            WriteOp::Delete { key, .. } => 6 + key.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(12 + size);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&(batch.ops.len() as u32).to_le_bytes());
    for op in &batch.ops {
        match op {
            WriteOp::Put { table, key, value } => {
                out.extend_from_slice(&[PUT, *table as u8]);
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                out.extend_from_slice(value);
            }
            WriteOp::Delete { table, key } => {
                out.extend_from_slice(&[DELETE, *table as u8]);
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
            }
        }
    }
    let payload_len = (out.len() - 8) as u32;
    let crc = crc32fast::hash(&out[8..]);
    out[..4].copy_from_slice(&payload_len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a record payload (its CRC already checked) into overlay entries.
fn decode_payload(payload: &[u8]) -> Result<Vec<Entry>, String> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err(format!("{what}: needs {n} bytes, {} left", self.0.len()));
            }
            let (head, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(head)
        }
        fn u32(&mut self, what: &str) -> Result<usize, String> {
            let b = self.take(4, what)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
    }
    let mut cur = Cursor(payload);
    let count = cur.u32("operation count")?;
    let mut entries = Vec::with_capacity(count.min(payload.len() / 6));
    for i in 0..count {
        let head = cur.take(2, "operation kind and table")?;
        let (kind, table) = (head[0], head[1]);
        if usize::from(table) >= Table::ALL.len() {
            return Err(format!("operation {i}: unknown table {table}"));
        }
        let key_len = cur.u32("key length")?;
        let mut key = Vec::with_capacity(1 + key_len);
        key.push(table);
        key.extend_from_slice(cur.take(key_len, "key")?);
        let value = match kind {
            PUT => {
                let len = cur.u32("value length")?;
                Some(Arc::from(cur.take(len, "value")?))
            }
            DELETE => None,
            other => return Err(format!("operation {i}: unknown kind {other}")),
        };
        entries.push((Arc::from(key), value));
    }
    if !cur.0.is_empty() {
        return Err(format!("{} bytes after the last operation", cur.0.len()));
    }
    Ok(entries)
}

/// Replays the journal file at `path` into `overlay`; returns the length of its valid prefix (0: no file).
fn replay(path: &Path, overlay: &mut Overlay, sealer: Option<&RecordCipher>) -> Result<usize, StoreError> {
    let error = |reason: String| StoreError::Journal { path: path.display().to_string(), reason };
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(error(format!("read: {e}"))),
    };
    if bytes.is_empty() {
        return Ok(0);
    }
    match (bytes.starts_with(MAGIC), bytes.starts_with(SEALED_MAGIC), sealer.is_some()) {
        (true, _, false) | (_, true, true) => {}
        (true, _, true) => {
            return Err(error(
                "the datadir is encrypted but its journal is not sealed; was the file replaced?".into(),
            ))
        }
        (_, true, false) => return Err(error("the journal is sealed: the datadir needs its key".into())),
        _ => return Err(error("not a keel journal (bad header); was the file replaced?".into())),
    }
    let mut at = MAGIC.len();
    let mut records = 0usize;
    while bytes.len() - at >= 8 {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let Some(payload) = bytes.get(at + 8..at + 8 + len) else { break };
        if crc32fast::hash(payload) != crc {
            if sealer.is_some() && at + 8 + len < bytes.len() {
                // A torn write can only be the last record: a bad one with more after it was altered.
                return Err(StoreError::Integrity {
                    table: "journal",
                    reason: format!(
                        "{}: record {records} at byte {at} fails its checksum, and records follow it",
                        path.display()
                    ),
                });
            }
            break;
        }
        let opened;
        let payload = match sealer {
            None => payload,
            Some(sealer) => {
                opened = sealer.open_with(payload, &(records as u64).to_le_bytes()).ok_or_else(|| {
                    StoreError::Integrity {
                        table: "journal",
                        reason: format!(
                            "{}: record {records} at byte {at} fails authentication (altered, reordered, or \
                             sealed under another key)",
                            path.display()
                        ),
                    }
                })?;
                &opened[..]
            }
        };
        let entries = decode_payload(payload)
            .map_err(|reason| error(format!("record at byte {at} is malformed: {reason}")))?;
        for (key, value) in entries {
            overlay.insert(key, value);
        }
        at += 8 + len;
        records += 1;
    }
    if at < bytes.len() {
        tracing::warn!(
            journal = %path.display(),
            records,
            dropped_bytes = bytes.len() - at,
            "journal ends in an incomplete record (a write cut short by a crash); dropping it"
        );
    } else if records > 0 {
        tracing::info!(journal = %path.display(), records, "replayed journal");
    }
    Ok(at)
}

/// Writes an overlay's entries into `inner` in one batch.
fn write_overlay(inner: &dyn Kv, overlay: &Overlay) -> Result<(), StoreError> {
    let mut batch = WriteBatch::default();
    batch.ops.reserve(overlay.len());
    for (key, value) in overlay.iter() {
        let table = Table::ALL[usize::from(key[0])];
        match value {
            Some(value) => batch.put(table, &key[1..], &value[..]),
            None => batch.delete(table, &key[1..]),
        }
    }
    inner.write(batch)
}

fn create_journal(path: &Path, sealed: bool) -> Result<File, StoreError> {
    let error = |reason: String| StoreError::Journal { path: path.display().to_string(), reason };
    let mut file = File::create(path).map_err(|e| error(format!("create: {e}")))?;
    file.write_all(if sealed { SEALED_MAGIC } else { MAGIC })
        .map_err(|e| error(format!("write header: {e}")))?;
    Ok(file)
}

impl JournalKv {
    /// Opens (creating if needed) the journal at `path` in front of `inner`: replays what it holds (and what a
    /// checkpoint cut short left in `path` + `.frozen`), writes that into `inner`, and starts the checkpoint
    /// thread.
    pub fn open(inner: Box<dyn Kv>, path: &Path, policy: CheckpointPolicy) -> Result<Self, StoreError> {
        Self::open_sealed(inner, path, policy, None)
    }

    /// [`JournalKv::open`] for an encrypted datadir: records are sealed by `sealer` (see the module docs).
    pub fn open_sealed(
        inner: Box<dyn Kv>,
        path: &Path,
        policy: CheckpointPolicy,
        sealer: Option<Arc<RecordCipher>>,
    ) -> Result<Self, StoreError> {
        let frozen_path = path.with_extension("journal-frozen");
        let mut overlay = Overlay::new();
        // Oldest first: the frozen journal's batches precede the live one's.
        replay(&frozen_path, &mut overlay, sealer.as_deref())?;
        replay(path, &mut overlay, sealer.as_deref())?;
        if !overlay.is_empty() {
            write_overlay(&*inner, &overlay)?;
        }
        let error = |reason: String| StoreError::Journal { path: path.display().to_string(), reason };
        match std::fs::remove_file(&frozen_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(error(format!("remove {}: {e}", frozen_path.display()))),
        }
        let file = create_journal(path, sealer.is_some())?;
        let journal = Journal {
            file,
            path: path.to_path_buf(),
            len: MAGIC.len() as u64,
            oldest: None,
            broken: None,
            sealer,
            records: 0,
        };
        let shared = Arc::new(Shared {
            inner,
            layers: RwLock::new(Layers::default()),
            journal: Mutex::new(journal),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            policy,
            frozen_path,
        });
        let thread_shared = shared.clone();
        let checkpointer = std::thread::Builder::new()
            .name("keel-checkpoint".into())
            .spawn(move || thread_shared.run_checkpoints())
            .map_err(|e| error(format!("starting the checkpoint thread: {e}")))?;
        Ok(Self { shared, checkpointer: Some(checkpointer) })
    }

    /// Writes everything journaled so far into the inner store and empties the journal (waits for a
    /// checkpoint in progress).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let mut journal = self.shared.journal.lock().map_err(poisoned)?;
        self.shared.checkpoint_now(&mut journal)
    }
}

impl Shared {
    fn due(&self, journal: &Journal) -> bool {
        journal.len >= self.policy.max_bytes
            || journal.oldest.is_some_and(|t| t.elapsed() >= self.policy.max_age)
    }

    /// The checkpoint thread: waits until the journal is due, freezes the live layer (moving its journal aside
    /// and starting a new one), writes the frozen layer into the inner store without holding any lock writers
    /// need, then drops the frozen layer and its journal.
    fn run_checkpoints(&self) {
        loop {
            let Ok(mut journal) = self.journal.lock() else { return };
            while !self.stop.load(Ordering::Acquire) && !self.due(&journal) {
                let wait = self.policy.max_age;
                journal = match self.wake.wait_timeout(journal, wait) {
                    Ok((guard, _)) => guard,
                    Err(_) => return,
                };
            }
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            let frozen = match self.freeze(&mut journal) {
                Ok(frozen) => frozen,
                Err(e) => {
                    tracing::error!(error = %e, "checkpoint: cannot rotate the journal; writes stay in it");
                    drop(journal);
                    std::thread::sleep(self.policy.max_age);
                    continue;
                }
            };
            drop(journal);
            while let Err(e) = self.finish(&frozen) {
                tracing::error!(error = %e, "checkpoint failed; retrying (writes are safe in the journal)");
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(self.policy.max_age);
            }
        }
    }

    /// Moves the live layer to `frozen` and the journal file to `frozen_path`; a new journal takes new writes.
    fn freeze(&self, journal: &mut Journal) -> Result<Overlay, StoreError> {
        std::fs::rename(&journal.path, &self.frozen_path)
            .map_err(|e| journal.error(format!("rename: {e}")))?;
        journal.file = create_journal(&journal.path, journal.sealer.is_some())?;
        journal.len = MAGIC.len() as u64;
        journal.records = 0;
        journal.oldest = None;
        let mut layers = self.layers.write().map_err(poisoned)?;
        let frozen = std::mem::take(&mut layers.live);
        layers.frozen = Some(frozen.clone());
        Ok(frozen)
    }

    /// Writes the frozen layer into the inner store, then forgets it and its journal.
    fn finish(&self, frozen: &Overlay) -> Result<(), StoreError> {
        write_overlay(&*self.inner, frozen)?;
        // Readers may now see the inner store's new state with or without the frozen layer: the values agree.
        self.layers.write().map_err(poisoned)?.frozen = None;
        match std::fs::remove_file(&self.frozen_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Journal {
                path: self.frozen_path.display().to_string(),
                reason: format!("remove: {e}"),
            }),
        }
    }

    /// A synchronous checkpoint of both layers (at shutdown, or when asked), with writers held off.
    fn checkpoint_now(&self, journal: &mut Journal) -> Result<(), StoreError> {
        // A checkpoint of the frozen layer in flight finishes first; then its layer is gone.
        loop {
            if self.layers.read().map_err(poisoned)?.frozen.is_none() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let live = self.layers.read().map_err(poisoned)?.live.clone();
        if live.is_empty() {
            return Ok(());
        }
        write_overlay(&*self.inner, &live)?;
        self.layers.write().map_err(poisoned)?.live = Overlay::new();
        journal.reset()
    }
}

impl Drop for JournalKv {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
        let result = match self.shared.journal.lock() {
            Ok(mut journal) => {
                // The thread may have stopped between freezing and finishing: write the frozen layer too.
                let frozen = self.shared.layers.read().ok().and_then(|l| l.frozen.clone());
                match frozen {
                    Some(frozen) => self.shared.finish(&frozen),
                    None => Ok(()),
                }
                .and_then(|()| self.shared.checkpoint_now(&mut journal))
            }
            Err(e) => Err(poisoned(e)),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "final checkpoint failed; the journal will be replayed at the next open");
        }
    }
}

impl Kv for JournalKv {
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError> {
        // Hold the layers' lock while taking the inner snapshot: a checkpoint drops a layer only after the
        // inner store has its values, and writers wait for this lock, so the triple is one state.
        let layers = self.shared.layers.read().map_err(poisoned)?;
        let inner = self.shared.inner.snapshot()?;
        Ok(Box::new(JournalSnapshot { layers: layers.clone(), inner }))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut journal = self.shared.journal.lock().map_err(poisoned)?;
        let record = journal.frame(encode_record(&batch));
        journal.append(&record)?;
        {
            let mut layers = self.shared.layers.write().map_err(poisoned)?;
            for op in batch.ops {
                match op {
                    WriteOp::Put { table, key, value } => {
                        layers.live.insert(Arc::from(table_key(table, &key)), Some(Arc::from(value)));
                    }
                    WriteOp::Delete { table, key } => {
                        layers.live.insert(Arc::from(table_key(table, &key)), None);
                    }
                }
            }
        }
        if self.shared.due(&journal) {
            self.shared.wake.notify_one();
        }
        Ok(())
    }
}

struct JournalSnapshot {
    layers: Layers,
    inner: Box<dyn KvRead>,
}

impl KvRead for JournalSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key_in_layers = table_key(table, key);
        let found =
            self.layers.live.get(key_in_layers.as_slice()).or_else(|| {
                self.layers.frozen.as_ref().and_then(|frozen| frozen.get(key_in_layers.as_slice()))
            });
        match found {
            Some(value) => Ok(value.as_ref().map(|v| v.to_vec())),
            None => self.inner.get(table, key),
        }
    }

    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = table_key(table, prefix);
        // The layers' entries under the prefix, newest value per key.
        let mut merged: std::collections::BTreeMap<&[u8], &Option<Arc<[u8]>>> = Default::default();
        for layer in self.layers.frozen.iter().chain(std::iter::once(&self.layers.live)) {
            let range = layer
                .range::<_, [u8]>((Bound::Included(start.as_slice()), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(&start));
            for (k, v) in range {
                merged.insert(&k[..], v);
            }
        }
        let mut pending = merged.into_iter().peekable();
        let mut stopped = false;
        self.inner.scan_prefix(table, prefix, &mut |key, value| {
            // Overlay entries before `key` first; an overlay entry for `key` itself replaces (or deletes) it.
            while let Some((k, v)) = pending.peek() {
                match k[1..].cmp(key) {
                    std::cmp::Ordering::Less => {
                        if let Some(v) = v {
                            if !f(&k[1..], v) {
                                stopped = true;
                                return false;
                            }
                        }
                        pending.next();
                    }
                    std::cmp::Ordering::Equal => {
                        let go_on = match v {
                            Some(v) => f(key, v),
                            None => true,
                        };
                        pending.next();
                        stopped = !go_on;
                        return go_on;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
            stopped = !f(key, value);
            !stopped
        })?;
        if !stopped {
            for (k, v) in pending {
                if let Some(v) = v {
                    if !f(&k[1..], v) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
}
