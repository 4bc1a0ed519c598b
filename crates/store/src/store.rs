//! [`Store`]: keel's chain data on top of the table layer — blocks, receipts, transaction lookups, trie nodes,
//! code and the flat state of the head — committed one block per atomic write.

use crate::{
    CheckpointPolicy, DbKey, JournalKv, Kv, KvRead, MemoryKv, RedbKv, StoreError, Table, WriteBatch,
};
use alloy_consensus::{BlockBody, Header, ReceiptEnvelope, Sealed, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rlp::Decodable;
use keel_primitives::{StateAccount, StateChanges, EMPTY_CODE_HASH};
use keel_trie::{NodeStore, TrieError};
use std::{path::Path, sync::Mutex};

/// Version of the on-disk layout (`docs/store.md`); bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The database file inside a datadir.
pub const DB_FILE: &str = "keel.redb";
/// The write-ahead journal in a datadir (see [`crate::JournalKv`]).
pub const JOURNAL_FILE: &str = "keel.journal";

const META_VERSION: &[u8] = b"version";
const META_SPEC: &[u8] = b"spec";
const META_GENESIS: &[u8] = b"genesis";
const META_HEAD: &[u8] = b"head";

/// Everything one block writes: the block itself, its receipts, and the state it leaves behind (the net diff
/// with storage roots filled in, the new trie nodes, the new code).
#[derive(Debug, Clone, Copy)]
pub struct BlockCommit<'a> {
    pub header: &'a Header,
    pub hash: B256,
    pub body: &'a BlockBody<TxEnvelope>,
    /// The sender of each transaction, in order.
    pub senders: &'a [Address],
    pub receipts: &'a [ReceiptEnvelope],
    pub changes: &'a StateChanges,
    pub trie_nodes: &'a [(B256, Bytes)],
}

/// What a block overwrote in the flat state: the previous account (RLP, empty = absent) of every changed account
/// and the previous value of every changed or wiped slot. Applying it backwards unwinds the block.
#[derive(Debug, Clone, Default, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
struct Changeset {
    accounts: Vec<PreviousAccount>,
    storage: Vec<PreviousSlot>,
}

#[derive(Debug, Clone, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
struct PreviousAccount {
    address: Address,
    /// RLP of the account before the block; empty if it did not exist.
    rlp: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
struct PreviousSlot {
    address: Address,
    slot: U256,
    value: U256,
}

/// Where a transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    pub block_hash: B256,
    pub index: u64,
}

/// What [`Store::init`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// The datadir was empty; the genesis block is now the head.
    Created,
    /// The datadir already holds this chain; its head is unchanged.
    Existing { head_hash: B256, head_number: u64 },
}

/// How [`Store::open_opts`] opens a datadir.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// When the journal is written into redb.
    pub checkpoint: CheckpointPolicy,
    /// The datadir's key, for an encrypted datadir.
    pub key: Option<DbKey>,
}

fn open_redb(dir: &Path) -> Result<RedbKv, StoreError> {
    std::fs::create_dir_all(dir)
        .map_err(|source| StoreError::Datadir { path: dir.display().to_string(), source })?;
    RedbKv::open(&dir.join(DB_FILE))
}

/// The journal's record cipher for a datadir key.
fn journal_cipher(key: &DbKey) -> std::sync::Arc<crate::RecordCipher> {
    std::sync::Arc::new(crate::RecordCipher::new(key, "journal"))
}

/// Whether the datadir's journal files hold any record (beyond their 16-byte header).
fn journal_has_records(dir: &Path) -> bool {
    let journal = dir.join(JOURNAL_FILE);
    [journal.with_extension("journal-frozen"), journal]
        .iter()
        .any(|path| std::fs::metadata(path).is_ok_and(|m| m.len() > 16))
}

/// keel's chain database.
#[derive(Debug)]
pub struct Store {
    kv: Box<dyn Kv>,
    /// Serialises writers: a block commit reads the flat state it is about to change.
    writer: Mutex<()>,
}

impl Store {
    /// Opens (creating if needed) the datadir `dir` and its database file.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, CheckpointPolicy::default())
    }

    /// [`Store::open`] with another checkpoint policy for the journal.
    pub fn open_with(dir: &Path, policy: CheckpointPolicy) -> Result<Self, StoreError> {
        Self::open_opts(dir, &OpenOptions { checkpoint: policy, key: None })
    }

    /// Opens (creating if needed) the datadir `dir`, encrypted when `options.key` is given (see
    /// [`crate::crypt`]): an empty datadir opened with a key becomes encrypted; an encrypted one opened without
    /// its key, or a plain one opened with a key, is refused.
    ///
    /// The layers, top down: the journal ([`JournalKv`]: plain values in memory, each block's record sealed whole
    /// in the journal file), then [`crate::EncryptedKv`] (each entry sealed, keys hashed, as the checkpoint
    /// thread writes them), then redb.
    pub fn open_opts(dir: &Path, options: &OpenOptions) -> Result<Self, StoreError> {
        let redb = open_redb(dir)?;
        if options.key.is_some() && !crate::crypt::is_encrypted(&redb)? && journal_has_records(dir) {
            // Plain batches still in the journal: this is a plain datadir, even if redb looks empty.
            return Err(StoreError::NotEncrypted { path: dir.display().to_string() });
        }
        let inner = crate::crypt::wrap(Box::new(redb), options.key.as_ref(), dir)?;
        let sealer = options.key.as_ref().map(journal_cipher);
        let journal = JournalKv::open_sealed(inner, &dir.join(JOURNAL_FILE), options.checkpoint, sealer)?;
        Self::with_kv(Box::new(journal))
    }

    /// Creates a new encrypted datadir for `key` (refusing one that already holds data).
    pub fn init_encrypted(dir: &Path, key: &DbKey) -> Result<(), StoreError> {
        let redb = open_redb(dir)?;
        if crate::crypt::is_encrypted(&redb)?
            || crate::crypt::has_plain_version(&redb)?
            || journal_has_records(dir)
        {
            return Err(StoreError::Datadir {
                path: dir.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already holds a datadir"),
            });
        }
        crate::crypt::wrap(Box::new(redb), Some(key), dir)?;
        Ok(())
    }

    /// Re-encrypts the datadir `dir` from key `old` to key `new` (see [`crate::crypt::rekey`]), committing
    /// every `batch_size` entries; `progress(moved)` is called after each batch and stops the rekey (with
    /// [`StoreError::RekeyInterrupted`]) by returning `false`. An interrupted run is finished by running it again
    /// with the same keys.
    pub fn rekey(
        dir: &Path,
        old: &DbKey,
        new: &DbKey,
        batch_size: usize,
        progress: &mut dyn FnMut(u64) -> bool,
    ) -> Result<u64, StoreError> {
        let path = dir.display().to_string();
        let redb = open_redb(dir)?;
        if !crate::crypt::is_encrypted(&redb)? {
            return Err(StoreError::NotEncrypted { path });
        }
        if crate::crypt::current_key(&redb)? == Some(old.id()) {
            // Not started yet: first write what the journal holds (sealed under the old key) into redb.
            let inner = crate::crypt::wrap(Box::new(redb), Some(old), dir)?;
            let journal = JournalKv::open_sealed(
                inner,
                &dir.join(JOURNAL_FILE),
                CheckpointPolicy::default(),
                Some(journal_cipher(old)),
            )?;
            journal.checkpoint()?;
            drop(journal);
        } else {
            drop(redb);
        }
        let redb = open_redb(dir)?;
        crate::crypt::rekey(&redb, old, new, batch_size.max(1), &mut |moved| {
            if progress(moved) {
                Ok(())
            } else {
                Err(StoreError::RekeyInterrupted {
                    path: path.clone(),
                    from: old.id().to_string(),
                    to: new.id().to_string(),
                })
            }
        })
        .map_err(|e| match e {
            StoreError::WrongKey { expected, given, .. } => {
                StoreError::WrongKey { path: path.clone(), expected, given }
            }
            other => other,
        })
    }

    /// An in-memory store (nothing survives the process).
    pub fn memory() -> Self {
        Self { kv: Box::new(MemoryKv::new()), writer: Mutex::new(()) }
    }

    /// A store over any table layer (e.g. an encrypting wrapper). Refuses data in another format version.
    pub fn with_kv(kv: Box<dyn Kv>) -> Result<Self, StoreError> {
        let store = Self { kv, writer: Mutex::new(()) };
        if let Some(raw) = store.snapshot()?.kv.get(Table::Meta, META_VERSION)? {
            let found = u32::from_be_bytes(
                raw.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::corrupt(Table::Meta, META_VERSION, "not a u32"))?,
            );
            if found != FORMAT_VERSION {
                return Err(StoreError::Version { found, supported: FORMAT_VERSION });
            }
        }
        Ok(store)
    }

    /// The table layer underneath.
    pub fn kv(&self) -> &dyn Kv {
        &*self.kv
    }

    /// A consistent view of the store as of now.
    pub fn snapshot(&self) -> Result<StoreSnapshot, StoreError> {
        Ok(StoreSnapshot { kv: self.kv.snapshot()? })
    }

    /// Initialises an empty datadir with `genesis` (block 0) for the chain whose spec hashes to `spec_hash`, or
    /// checks that a non-empty one holds the same chain.
    pub fn init(&self, spec_hash: B256, genesis: BlockCommit<'_>) -> Result<InitOutcome, StoreError> {
        let _writer = self.writer.lock().map_err(|_| poisoned())?;
        let snapshot = self.snapshot()?;
        if let Some(stored) = snapshot.meta_hash(META_SPEC)? {
            if stored != spec_hash {
                return Err(StoreError::SpecMismatch { stored, requested: spec_hash });
            }
            let head = snapshot.require_head()?;
            return Ok(InitOutcome::Existing { head_hash: head.hash(), head_number: head.number });
        }
        // No chain spec: the datadir must then hold no chain at all (a lost spec entry must not start a new one).
        for key in [META_VERSION, META_GENESIS, META_HEAD] {
            if snapshot.kv.get(Table::Meta, key)?.is_some() {
                return Err(StoreError::missing(Table::Meta, META_SPEC));
            }
        }
        if snapshot.canonical_hash(0)?.is_some() {
            return Err(StoreError::missing(Table::Meta, META_SPEC));
        }
        let mut batch = WriteBatch::default();
        batch.put(Table::Meta, META_VERSION, FORMAT_VERSION.to_be_bytes());
        batch.put(Table::Meta, META_SPEC, spec_hash.as_slice());
        batch.put(Table::Meta, META_GENESIS, genesis.hash.as_slice());
        block_writes(&snapshot, &genesis, &mut batch)?;
        self.kv.write(batch)?;
        Ok(InitOutcome::Created)
    }

    /// Commits `block` as the new head, in one atomic write. It must extend the current head.
    pub fn commit_block(&self, block: BlockCommit<'_>) -> Result<(), StoreError> {
        let _writer = self.writer.lock().map_err(|_| poisoned())?;
        let snapshot = self.snapshot()?;
        let head = snapshot.head_hash()?.ok_or_else(|| StoreError::missing(Table::Meta, META_HEAD))?;
        if block.header.parent_hash != head {
            return Err(StoreError::NotChild {
                number: block.header.number,
                hash: block.hash,
                parent: block.header.parent_hash,
                head,
            });
        }
        let mut batch = WriteBatch::default();
        block_writes(&snapshot, &block, &mut batch)?;
        // Release the snapshot before writing: a persistent map shared with a live snapshot copies every node
        // a write touches instead of changing it in place.
        drop(snapshot);
        self.kv.write(batch)
    }
}

impl Store {
    /// Unwinds the canonical chain to block `number` (a reorganisation, `evm_revert`): the flat state is restored
    /// from the changesets of the blocks above it, their canonical entries and transaction lookups are removed, and
    /// `number` becomes the head — in one atomic write. Headers, bodies, receipts and trie nodes of the removed
    /// blocks stay readable by hash. Returns the hashes of the removed blocks, newest first.
    pub fn unwind_to(&self, number: u64) -> Result<Vec<B256>, StoreError> {
        let _writer = self.writer.lock().map_err(|_| poisoned())?;
        let snapshot = self.snapshot()?;
        let head = snapshot.require_head()?;
        let target = snapshot
            .canonical_hash(number)?
            .ok_or_else(|| StoreError::missing(Table::Canonical, &number.to_be_bytes()))?;
        let mut batch = WriteBatch::default();
        let mut removed = Vec::new();
        for n in (number + 1..=head.number).rev() {
            let key = n.to_be_bytes();
            let hash =
                snapshot.canonical_hash(n)?.ok_or_else(|| StoreError::missing(Table::Canonical, &key))?;
            let raw = snapshot
                .kv
                .get(Table::Changesets, hash.as_slice())?
                .ok_or_else(|| StoreError::missing(Table::Changesets, hash.as_slice()))?;
            let changeset: Changeset = decode(Table::Changesets, hash.as_slice(), &raw)?;
            // Later writes win within a batch: undo slots first, then accounts, newest block first.
            for PreviousSlot { address, slot, value } in changeset.storage.iter().rev() {
                let key = storage_key(address, slot);
                if value.is_zero() {
                    batch.delete(Table::Storage, key);
                } else {
                    batch.put(Table::Storage, key, alloy_rlp::encode(value));
                }
            }
            for PreviousAccount { address, rlp } in changeset.accounts.iter().rev() {
                if rlp.is_empty() {
                    batch.delete(Table::Accounts, address.as_slice());
                } else {
                    batch.put(Table::Accounts, address.as_slice(), rlp.to_vec());
                }
            }
            if let Some(body) = snapshot.body(hash)? {
                for tx in &body.transactions {
                    batch.delete(Table::TxLookup, tx.tx_hash().as_slice());
                }
            }
            batch.delete(Table::Canonical, key);
            batch.delete(Table::Changesets, hash.as_slice());
            removed.push(hash);
        }
        batch.put(Table::Meta, META_HEAD, target.as_slice());
        drop(snapshot);
        self.kv.write(batch)?;
        Ok(removed)
    }
}

fn poisoned() -> StoreError {
    StoreError::Poisoned { table: "meta", reason: "writer lock poisoned by a panicked commit".into() }
}

/// The flat-storage key of `slot` of `address`.
fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    key
}

/// Adds everything `block` writes to `batch`; `snapshot` is the state it builds on.
fn block_writes(
    snapshot: &StoreSnapshot,
    block: &BlockCommit<'_>,
    batch: &mut WriteBatch,
) -> Result<(), StoreError> {
    let hash = block.hash;
    batch.put(Table::Headers, hash.as_slice(), alloy_rlp::encode(block.header));
    batch.put(Table::Canonical, block.header.number.to_be_bytes(), hash.as_slice());
    batch.put(Table::Bodies, hash.as_slice(), alloy_rlp::encode(block.body));
    batch.put(
        Table::Senders,
        hash.as_slice(),
        block.senders.iter().flat_map(|a| a.0 .0).collect::<Vec<u8>>(),
    );
    let receipts: Vec<Bytes> = block.receipts.iter().map(|r| r.encoded_2718().into()).collect();
    batch.put(Table::Receipts, hash.as_slice(), alloy_rlp::encode(&receipts));
    for (index, tx) in (0u64..).zip(&block.body.transactions) {
        let mut location = [0u8; 40];
        location[..32].copy_from_slice(hash.as_slice());
        location[32..].copy_from_slice(&index.to_be_bytes());
        batch.put(Table::TxLookup, tx.tx_hash().as_slice(), location);
    }
    for (node_hash, rlp) in block.trie_nodes {
        batch.put(Table::TrieNodes, node_hash.as_slice(), rlp.as_ref());
    }
    for (code_hash, code) in &block.changes.new_code {
        batch.put(Table::Code, code_hash.as_slice(), code.as_ref());
    }
    let mut changeset = Changeset::default();
    for change in &block.changes.accounts {
        let address = change.address;
        let previous = snapshot.kv.get(Table::Accounts, address.as_slice())?.unwrap_or_default();
        changeset.accounts.push(PreviousAccount { address, rlp: previous.into() });
        let mut wiped_slots = std::collections::HashSet::new();
        if change.wiped || change.account.is_none() {
            // Storage cleared: drop every flat slot of the account before the block's own writes.
            for (slot, value) in snapshot.storage_slots(address)? {
                batch.delete(Table::Storage, storage_key(&address, &slot));
                changeset.storage.push(PreviousSlot { address, slot, value });
                wiped_slots.insert(slot);
            }
        }
        match &change.account {
            None => batch.delete(Table::Accounts, address.as_slice()),
            Some(account) => {
                batch.put(Table::Accounts, address.as_slice(), alloy_rlp::encode(account));
                for (slot, value) in &change.storage {
                    let key = storage_key(&address, slot);
                    if !wiped_slots.contains(slot) {
                        changeset.storage.push(PreviousSlot {
                            address,
                            slot: *slot,
                            value: snapshot.storage(address, *slot)?,
                        });
                    }
                    if value.is_zero() {
                        batch.delete(Table::Storage, key);
                    } else {
                        batch.put(Table::Storage, key, alloy_rlp::encode(value));
                    }
                }
            }
        }
    }
    batch.put(Table::Changesets, hash.as_slice(), alloy_rlp::encode(&changeset));
    batch.put(Table::Meta, META_HEAD, hash.as_slice());
    Ok(())
}

/// A consistent read view of the store.
pub struct StoreSnapshot {
    pub(crate) kv: Box<dyn KvRead>,
}

impl std::fmt::Debug for StoreSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSnapshot").finish_non_exhaustive()
    }
}

fn decode<T: Decodable>(table: Table, key: &[u8], raw: &[u8]) -> Result<T, StoreError> {
    alloy_rlp::decode_exact(raw).map_err(|e| StoreError::corrupt(table, key, e))
}

fn hash_value(table: Table, key: &[u8], raw: &[u8]) -> Result<B256, StoreError> {
    B256::try_from(raw)
        .map_err(|_| StoreError::corrupt(table, key, format!("expected 32 bytes, found {}", raw.len())))
}

impl StoreSnapshot {
    fn meta_hash(&self, key: &[u8]) -> Result<Option<B256>, StoreError> {
        self.kv.get(Table::Meta, key)?.map(|raw| hash_value(Table::Meta, key, &raw)).transpose()
    }

    /// The hash of the chain spec the datadir was initialised with.
    pub fn spec_hash(&self) -> Result<Option<B256>, StoreError> {
        self.meta_hash(META_SPEC)
    }

    /// The genesis block hash.
    pub fn genesis_hash(&self) -> Result<Option<B256>, StoreError> {
        self.meta_hash(META_GENESIS)
    }

    /// The hash of the head block; `None` for an uninitialised datadir.
    pub fn head_hash(&self) -> Result<Option<B256>, StoreError> {
        self.meta_hash(META_HEAD)
    }

    /// The head block's header.
    pub fn head(&self) -> Result<Option<Sealed<Header>>, StoreError> {
        let Some(hash) = self.head_hash()? else { return Ok(None) };
        let header =
            self.header(hash)?.ok_or_else(|| StoreError::missing(Table::Headers, hash.as_slice()))?;
        Ok(Some(Sealed::new_unchecked(header, hash)))
    }

    /// The head block's header of an initialised datadir (a missing head is corruption, reported as such).
    pub fn require_head(&self) -> Result<Sealed<Header>, StoreError> {
        self.head()?.ok_or_else(|| StoreError::missing(Table::Meta, META_HEAD))
    }

    pub fn header(&self, hash: B256) -> Result<Option<Header>, StoreError> {
        let key = hash.as_slice();
        self.kv.get(Table::Headers, key)?.map(|raw| decode(Table::Headers, key, &raw)).transpose()
    }

    /// The hash of canonical block `number`.
    pub fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let key = number.to_be_bytes();
        self.kv.get(Table::Canonical, &key)?.map(|raw| hash_value(Table::Canonical, &key, &raw)).transpose()
    }

    pub fn header_by_number(&self, number: u64) -> Result<Option<Sealed<Header>>, StoreError> {
        let Some(hash) = self.canonical_hash(number)? else { return Ok(None) };
        let header =
            self.header(hash)?.ok_or_else(|| StoreError::missing(Table::Headers, hash.as_slice()))?;
        Ok(Some(Sealed::new_unchecked(header, hash)))
    }

    pub fn body(&self, hash: B256) -> Result<Option<BlockBody<TxEnvelope>>, StoreError> {
        let key = hash.as_slice();
        self.kv.get(Table::Bodies, key)?.map(|raw| decode(Table::Bodies, key, &raw)).transpose()
    }

    /// The senders of a block's transactions, in order.
    pub fn senders(&self, hash: B256) -> Result<Option<Vec<Address>>, StoreError> {
        let key = hash.as_slice();
        let Some(raw) = self.kv.get(Table::Senders, key)? else { return Ok(None) };
        if raw.len() % 20 != 0 {
            return Err(StoreError::corrupt(
                Table::Senders,
                key,
                format!("{} bytes is not a list of addresses", raw.len()),
            ));
        }
        Ok(Some(raw.chunks_exact(20).map(Address::from_slice).collect()))
    }

    pub fn receipts(&self, hash: B256) -> Result<Option<Vec<ReceiptEnvelope>>, StoreError> {
        let key = hash.as_slice();
        let Some(raw) = self.kv.get(Table::Receipts, key)? else { return Ok(None) };
        let encoded: Vec<Bytes> = decode(Table::Receipts, key, &raw)?;
        encoded
            .iter()
            .enumerate()
            .map(|(i, r)| {
                ReceiptEnvelope::decode_2718(&mut r.as_ref())
                    .map_err(|e| StoreError::corrupt(Table::Receipts, key, format!("receipt {i}: {e}")))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    pub fn tx_location(&self, tx_hash: B256) -> Result<Option<TxLocation>, StoreError> {
        let key = tx_hash.as_slice();
        let Some(raw) = self.kv.get(Table::TxLookup, key)? else { return Ok(None) };
        let (hash, index) = raw
            .split_at_checked(32)
            .and_then(|(h, i)| Some((B256::from_slice(h), u64::from_be_bytes(i.try_into().ok()?))))
            .ok_or_else(|| {
                StoreError::corrupt(Table::TxLookup, key, format!("expected 40 bytes, found {}", raw.len()))
            })?;
        Ok(Some(TxLocation { block_hash: hash, index }))
    }

    /// Contract code by hash (the empty code for [`EMPTY_CODE_HASH`]).
    pub fn code(&self, code_hash: B256) -> Result<Option<Bytes>, StoreError> {
        if code_hash == EMPTY_CODE_HASH {
            return Ok(Some(Bytes::new()));
        }
        Ok(self.kv.get(Table::Code, code_hash.as_slice())?.map(Bytes::from))
    }

    /// The head state's account at `address`, from the flat table.
    pub fn account(&self, address: Address) -> Result<Option<StateAccount>, StoreError> {
        let key = address.as_slice();
        self.kv.get(Table::Accounts, key)?.map(|raw| decode(Table::Accounts, key, &raw)).transpose()
    }

    /// The head state's value of `slot` of `address`, from the flat table.
    pub fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        let key = storage_key(&address, &slot);
        Ok(self
            .kv
            .get(Table::Storage, &key)?
            .map(|raw| decode(Table::Storage, &key, &raw))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every slot of `address` in the head state's flat table, in slot order.
    pub fn storage_slots(&self, address: Address) -> Result<Vec<(U256, U256)>, StoreError> {
        let mut out = Vec::new();
        let mut error = None;
        self.kv.scan_prefix(Table::Storage, address.as_slice(), &mut |key, raw| {
            let slot = U256::from_be_slice(&key[20..]);
            match decode(Table::Storage, key, raw) {
                Ok(value) => {
                    out.push((slot, value));
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        })?;
        error.map_or(Ok(out), Err)
    }

    /// The table layer's snapshot, for checks and tools that read tables directly.
    pub fn kv(&self) -> &dyn KvRead {
        &*self.kv
    }
}

impl NodeStore for StoreSnapshot {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.kv
            .get(Table::TrieNodes, hash.as_slice())
            .map(|v| v.map(Bytes::from))
            .map_err(|e| TrieError::Store(e.to_string()))
    }
}
