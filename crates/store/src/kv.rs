//! The table layer: every byte keel keeps on disk goes through [`Kv`]. It is deliberately small (get, ordered
//! prefix scan, one atomic batch write) so that a wrapper such as encryption at rest can implement it over
//! another `Kv` without knowing what the tables mean.

use crate::StoreError;
use std::{
    ops::Bound,
    sync::{Arc, RwLock},
};

/// The tables of a keel datadir. Key and value layouts are in `docs/store.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Datadir facts: format version, chain spec hash, genesis hash, head hash.
    Meta,
    /// block hash → RLP header.
    Headers,
    /// block number (u64 BE) → block hash, for the canonical chain.
    Canonical,
    /// block hash → RLP body (transactions, ommers, withdrawals).
    Bodies,
    /// block hash → RLP list of EIP-2718 receipts.
    Receipts,
    /// transaction hash → block hash ‖ index (u64 BE).
    TxLookup,
    /// keccak256(node RLP) → node RLP, for the account and storage tries of every committed block.
    TrieNodes,
    /// keccak256(code) → code.
    Code,
    /// address → RLP state account, at the head.
    Accounts,
    /// address ‖ slot (32 bytes BE) → RLP value, at the head. Scanned by address prefix.
    Storage,
    /// block hash → what the block overwrote in the flat state (to unwind it on a reorganisation).
    Changesets,
    /// block hash → the 20-byte senders of its transactions, concatenated (recovered once, at import).
    Senders,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::Meta,
        Table::Headers,
        Table::Canonical,
        Table::Bodies,
        Table::Receipts,
        Table::TxLookup,
        Table::TrieNodes,
        Table::Code,
        Table::Accounts,
        Table::Storage,
        Table::Changesets,
        Table::Senders,
    ];

    /// The table's name on disk.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Headers => "headers",
            Table::Canonical => "canonical",
            Table::Bodies => "bodies",
            Table::Receipts => "receipts",
            Table::TxLookup => "tx_lookup",
            Table::TrieNodes => "trie_nodes",
            Table::Code => "code",
            Table::Accounts => "accounts",
            Table::Storage => "storage",
            Table::Changesets => "changesets",
            Table::Senders => "senders",
        }
    }

    /// Whether keel scans this table by key prefix in normal operation (so a wrapper must keep prefixes).
    pub fn is_scanned(self) -> bool {
        matches!(self, Table::Storage)
    }
}

/// One change of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put { table: Table, key: Vec<u8>, value: Vec<u8> },
    Delete { table: Table, key: Vec<u8> },
}

/// Changes that commit together or not at all, applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    pub ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn put(&mut self, table: Table, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Put { table, key: key.into(), value: value.into() });
    }

    pub fn delete(&mut self, table: Table, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete { table, key: key.into() });
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A consistent read view of all tables: later writes are not seen through it.
pub trait KvRead: Send + Sync {
    /// The value under `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Calls `f(key, value)` for every entry whose key starts with `prefix`, in key order, until `f` returns
    /// `false`.
    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;
}

/// A transactional key-value store with one keyspace per [`Table`].
pub trait Kv: Send + Sync + std::fmt::Debug {
    /// A snapshot of the current committed state.
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError>;

    /// Applies `batch` atomically and durably: after a crash, either all of it or none of it is there.
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError>;
}

/// Every entry of a [`MemoryKv`]: table byte ‖ key → value, in a persistent map so that a snapshot is an O(1)
/// clone (a dev chain takes one per block and per request; copying the tables made `--ephemeral` chains slow
/// down block by block).
type Entries = imbl::OrdMap<Vec<u8>, Arc<[u8]>>;

/// `table ‖ key`: one ordered key space for all tables (the in-memory maps here and in the journal's overlay).
pub(crate) fn table_key(table: Table, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(table as u8);
    k.extend_from_slice(key);
    k
}

/// An in-memory [`Kv`]: for tests, benchmarks and throw-away chains.
#[derive(Debug, Default)]
pub struct MemoryKv {
    tables: RwLock<Entries>,
}

impl MemoryKv {
    pub fn new() -> Self {
        Self::default()
    }
}

/// A snapshot of a [`MemoryKv`]: its tables as they were (a structural-sharing clone).
struct MemorySnapshot(Entries);

impl KvRead for MemorySnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(table_key(table, key).as_slice()).map(|v| v.to_vec()))
    }

    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = table_key(table, prefix);
        for (k, v) in self.0.range::<_, [u8]>((Bound::Included(start.as_slice()), Bound::Unbounded)) {
            if !k.starts_with(&start) || !f(&k[1..], v) {
                break;
            }
        }
        Ok(())
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Poisoned { table: "memory", reason: "lock poisoned by a panicked writer".into() }
}

impl Kv for MemoryKv {
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError> {
        Ok(Box::new(MemorySnapshot(self.tables.read().map_err(poisoned)?.clone())))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut tables = self.tables.write().map_err(poisoned)?;
        for op in batch.ops {
            match op {
                WriteOp::Put { table, key, value } => {
                    tables.insert(table_key(table, &key), Arc::from(value));
                }
                WriteOp::Delete { table, key } => {
                    tables.remove(table_key(table, &key).as_slice());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(snapshot: &dyn KvRead, table: Table, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        snapshot
            .scan_prefix(table, prefix, &mut |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                true
            })
            .expect("scan");
        out
    }

    #[test]
    fn memory_snapshots_do_not_see_later_writes() {
        let kv = MemoryKv::new();
        let mut batch = WriteBatch::default();
        batch.put(Table::Accounts, [1], [10]);
        batch.put(Table::Accounts, [2], [20]);
        kv.write(batch).expect("write");
        let before = kv.snapshot().expect("snapshot");
        let mut batch = WriteBatch::default();
        batch.put(Table::Accounts, [1], [11]);
        batch.delete(Table::Accounts, [2]);
        batch.put(Table::Accounts, [3], [30]);
        kv.write(batch).expect("write");
        let after = kv.snapshot().expect("snapshot");
        assert_eq!(before.get(Table::Accounts, &[1]).expect("get"), Some(vec![10]));
        assert_eq!(before.get(Table::Accounts, &[2]).expect("get"), Some(vec![20]));
        assert_eq!(before.get(Table::Accounts, &[3]).expect("get"), None);
        assert_eq!(after.get(Table::Accounts, &[1]).expect("get"), Some(vec![11]));
        assert_eq!(after.get(Table::Accounts, &[2]).expect("get"), None);
        assert_eq!(after.get(Table::Accounts, &[3]).expect("get"), Some(vec![30]));
    }

    #[test]
    fn memory_scans_stay_inside_their_table_and_prefix() {
        let kv = MemoryKv::new();
        let mut batch = WriteBatch::default();
        batch.put(Table::Accounts, [7, 1], [1]);
        batch.put(Table::Storage, [6, 9], [2]);
        batch.put(Table::Storage, [7, 1], [3]);
        batch.put(Table::Storage, [7, 2], [4]);
        batch.put(Table::Storage, [8, 0], [5]);
        batch.put(Table::Code, [7, 3], [6]);
        kv.write(batch).expect("write");
        let snapshot = kv.snapshot().expect("snapshot");
        assert_eq!(
            scan(&*snapshot, Table::Storage, &[7]),
            vec![(vec![7, 1], vec![3]), (vec![7, 2], vec![4])]
        );
        assert_eq!(scan(&*snapshot, Table::Storage, &[]).len(), 4);
        assert_eq!(scan(&*snapshot, Table::Accounts, &[7]), vec![(vec![7, 1], vec![1])]);
        assert!(scan(&*snapshot, Table::Senders, &[]).is_empty());
    }
}
