//! `keel-store`: keel's chain database in a datadir (redb).
//!
//! Where to start reading:
//! - [`Kv`] / [`KvRead`] (`kv.rs`): the table layer, the only code that touches bytes on disk. It is narrow on
//!   purpose: encryption at rest wraps it. [`RedbKv`] is the redb implementation, [`MemoryKv`] an in-memory one, and [`JournalKv`] puts a write-ahead
//!   journal and an in-memory overlay in front of redb so that a block costs one append, not a B-tree commit.
//! - [`EncryptedKv`] (`crypt.rs`): encryption at rest, between the journal and redb (the journal seals its own
//!   records): every value sealed with an AEAD bound to its table and key, keys replaced by keyed hashes, key
//!   rotation ([`Store::rekey`]).
//! - [`Store`] (`store.rs`): blocks, receipts, transaction lookups, trie nodes, code and the head's flat state.
//!   [`Store::commit_block`] writes one block in one atomic batch, so a crash leaves the old head or the new one.
//! - [`StoreSnapshot`]: consistent reads; it is also the [`keel_trie::NodeStore`] the state trie is walked through,
//!   and [`StoreSnapshot::check_state`] verifies the stored state against a state root.
//!
//! The on-disk layout is described in `docs/store.md`.

pub mod crypt;
mod error;
mod journal;
mod kv;
mod redb_kv;
mod store;
mod verify;

pub use crypt::{DbKey, EncryptedKv, KeyId, RecordCipher, KEY_ENV};
pub use error::StoreError;
pub use journal::{CheckpointPolicy, JournalKv};
pub use kv::{Kv, KvRead, MemoryKv, Table, WriteBatch, WriteOp};
pub use redb_kv::RedbKv;
pub use store::{
    BlockCommit, InitOutcome, OpenOptions, Store, StoreSnapshot, TxLocation, DB_FILE, FORMAT_VERSION,
    JOURNAL_FILE,
};
pub use verify::StateCheck;
