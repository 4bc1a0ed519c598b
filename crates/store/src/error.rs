use alloy_primitives::B256;

/// Why the store could not do what was asked. Every variant names the table, key or block concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed (I/O, corruption it detected, lock held by another process).
    #[error("database {op} failed: {error}")]
    Database { op: &'static str, error: redb::Error },
    /// The database engine gave up on a damaged file (it panicked; keel caught it).
    #[error("database {op} failed: the database file is damaged ({reason})")]
    Damaged { op: &'static str, reason: String },
    /// The datadir could not be created or opened.
    #[error("datadir {path}: {source}")]
    Datadir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored value does not decode: the table and key say where, `reason` what.
    #[error("table `{table}`, key 0x{key}: stored value is malformed: {reason}")]
    Corrupt { table: &'static str, key: String, reason: String },
    /// A value the store's own invariants require is missing (e.g. the header the head pointer names).
    #[error("table `{table}`, key 0x{key}: missing, but the store's head refers to it")]
    Missing { table: &'static str, key: String },
    /// A block was committed that does not extend the current head.
    #[error("block {number} ({hash}) has parent {parent}, but the store's head is {head}")]
    NotChild { number: u64, hash: B256, parent: B256, head: B256 },
    /// The datadir was initialised for another chain.
    #[error("datadir holds chain spec {stored}, not {requested}: use another --datadir, or the same genesis (--init) and sandbox policy (--policy) it was created with")]
    SpecMismatch { stored: B256, requested: B256 },
    /// The datadir's format version is not one this build reads.
    #[error("datadir format version {found} is not supported (this build reads version {supported})")]
    Version { found: u32, supported: u32 },
    /// The stored state does not match the state root it should have.
    #[error("state check failed: {0}")]
    StateMismatch(String),
    /// A trie walk over the stored nodes failed.
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    /// The write-ahead journal could not be read or written.
    #[error("journal {path}: {reason}")]
    Journal { path: String, reason: String },
    /// A datadir key could not be read or is malformed.
    #[error("{origin}: {reason}")]
    Key { origin: String, reason: String },
    /// The datadir is encrypted and no key was given.
    #[error("datadir {path} is encrypted (key id {key}): give its key with --key-file FILE or KEEL_DB_KEY (and --encrypt for keel node)")]
    KeyRequired { path: String, key: String },
    /// A key was given for a datadir that holds plain (unencrypted) data.
    #[error("datadir {path} is not encrypted, but a key was given: drop --encrypt, or use a new datadir (`keel db init`)")]
    NotEncrypted { path: String },
    /// The key given is not the datadir's.
    #[error(
        "wrong key for datadir {path}: it is encrypted with key id {expected}, the key given has id {given}"
    )]
    WrongKey { path: String, expected: String, given: String },
    /// A rekey was interrupted; the datadir cannot be used until it is finished.
    #[error("datadir {path}: a rekey from key id {from} to key id {to} was interrupted; run `keel db rekey` again with the same keys to finish it")]
    RekeyInterrupted { path: String, from: String, to: String },
    /// Encrypted data failed authentication: it was altered, moved, or is not the datadir's.
    #[error("table `{table}`: integrity check failed: {reason}")]
    Integrity { table: &'static str, reason: String },
    /// A lock was poisoned by a thread that panicked while holding it.
    #[error("table `{table}`: {reason}")]
    Poisoned { table: &'static str, reason: String },
}

impl StoreError {
    pub(crate) fn corrupt(table: crate::Table, key: &[u8], reason: impl ToString) -> Self {
        Self::Corrupt {
            table: table.name(),
            key: alloy_primitives::hex::encode(key),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn missing(table: crate::Table, key: &[u8]) -> Self {
        Self::Missing { table: table.name(), key: alloy_primitives::hex::encode(key) }
    }
}
