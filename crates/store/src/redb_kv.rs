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
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::Database { op: "open", source: e.into() })?;
        let txn =
            db.begin_write().map_err(|e| StoreError::Database { op: "create tables", source: e.into() })?;
        for table in Table::ALL {
            txn.open_table(definition(table))
                .map_err(|e| StoreError::Database { op: "create tables", source: e.into() })?;
        }
        txn.commit().map_err(|e| StoreError::Database { op: "create tables", source: e.into() })?;
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
            .map_err(|e| StoreError::Database { op: "open table", source: e.into() })?;
        Ok(slot.get_or_init(|| opened))
    }
}

impl KvRead for RedbSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let guard =
            self.table(table)?.get(key).map_err(|e| StoreError::Database { op: "read", source: e.into() })?;
        Ok(guard.map(|g| g.value().to_vec()))
    }

    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let scan = |e: redb::StorageError| StoreError::Database { op: "scan", source: e.into() };
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
        let txn =
            self.db.begin_read().map_err(|e| StoreError::Database { op: "begin read", source: e.into() })?;
        Ok(Box::new(RedbSnapshot { txn, tables: Default::default() }))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let fail = |e: redb::Error| StoreError::Database { op: "write", source: e };
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
