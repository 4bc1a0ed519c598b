//! [`Kv`] on redb: one redb table per [`Table`], byte-string keys and values, one write transaction per batch.

use crate::{Kv, KvRead, StoreError, Table, WriteBatch, WriteOp};
use redb::{Database, ReadOnlyTable, ReadableDatabase, TableDefinition};
use std::path::Path;

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn definition(table: Table) -> Def {
    TableDefinition::new(table.name())
}

/// redb's page cache. Recent blocks and state are served from the journal's overlay, so the cache mostly
/// holds the upper levels of the B-trees; redb's default (1 GiB) would let a long-running dev node grow to that.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A redb database file holding keel's tables.
#[derive(Debug)]
pub struct RedbKv {
    db: Database,
}

impl RedbKv {
    /// Opens the database file at `path`, creating it (and every table) if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        guarded("open", || Self::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<Self, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::Database { op: "open", error: e.into() })?;
        let txn =
            db.begin_write().map_err(|e| StoreError::Database { op: "create tables", error: e.into() })?;
        for table in Table::ALL {
            txn.open_table(definition(table))
                .map_err(|e| StoreError::Database { op: "create tables", error: e.into() })?;
        }
        txn.commit().map_err(|e| StoreError::Database { op: "create tables", error: e.into() })?;
        Ok(Self { db })
    }
}

/// A read transaction; tables are opened on first use (most reads touch one or two of them).
struct RedbSnapshot {
    txn: redb::ReadTransaction,
    tables: [std::sync::OnceLock<ReadOnlyTable<&'static [u8], &'static [u8]>>; Table::ALL.len()],
}

impl RedbSnapshot {
    fn table(&self, table: Table) -> Result<&ReadOnlyTable<&'static [u8], &'static [u8]>, StoreError> {
        // `Table::ALL`'s order is the discriminant order.
        let slot = &self.tables[table as usize];
        if let Some(t) = slot.get() {
            return Ok(t);
        }
        let opened = self
            .txn
            .open_table(definition(table))
            .map_err(|e| StoreError::Database { op: "open table", error: e.into() })?;
        Ok(slot.get_or_init(|| opened))
    }
}

/// Runs a redb operation, turning a panic inside redb (it panics on some kinds of damaged files, e.g. a
/// malformed allocator state) into an error: a damaged datadir must not take the node down.
fn guarded<T>(op: &'static str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(StoreError::Damaged { op, reason })
    })
}

impl KvRead for RedbSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        guarded("read", || self.get_unguarded(table, key))
    }

    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        guarded("scan", || self.scan_unguarded(table, prefix, f))
    }
}

impl RedbSnapshot {
    fn get_unguarded(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let guard =
            self.table(table)?.get(key).map_err(|e| StoreError::Database { op: "read", error: e.into() })?;
        Ok(guard.map(|g| g.value().to_vec()))
    }

    fn scan_unguarded(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let scan = |e: redb::StorageError| StoreError::Database { op: "scan", error: e.into() };
        for entry in self.table(table)?.range::<&[u8]>(prefix..).map_err(scan)? {
            let (key, value) = entry.map_err(scan)?;
            if !key.value().starts_with(prefix) || !f(key.value(), value.value()) {
                break;
            }
        }
        Ok(())
    }
}

impl Kv for RedbKv {
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError> {
        guarded("begin read", || self.snapshot_unguarded())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        guarded("write", || self.write_unguarded(batch))
    }
}

impl RedbKv {
    fn snapshot_unguarded(&self) -> Result<Box<dyn KvRead>, StoreError> {
        let txn =
            self.db.begin_read().map_err(|e| StoreError::Database { op: "begin read", error: e.into() })?;
        Ok(Box::new(RedbSnapshot { txn, tables: Default::default() }))
    }

    fn write_unguarded(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let fail = |e: redb::Error| StoreError::Database { op: "write", error: e };
        let txn = self.db.begin_write().map_err(|e| fail(e.into()))?;
        {
            let mut open: Vec<Option<redb::Table<'_, &'static [u8], &'static [u8]>>> =
                Table::ALL.iter().map(|_| None).collect();
            for op in &batch.ops {
                let table = match op {
                    WriteOp::Put { table, .. } | WriteOp::Delete { table, .. } => *table,
                };
                let slot = &mut open[table as usize];
                let handle = match slot {
                    Some(handle) => handle,
                    None => slot.insert(txn.open_table(definition(table)).map_err(|e| fail(e.into()))?),
                };
                match op {
                    WriteOp::Put { key, value, .. } => {
                        handle.insert(key.as_slice(), value.as_slice()).map_err(|e| fail(e.into()))?;
                    }
                    WriteOp::Delete { key, .. } => {
                        handle.remove(key.as_slice()).map_err(|e| fail(e.into()))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| fail(e.into()))
    }
}
