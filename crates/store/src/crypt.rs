//! Encryption at rest: [`EncryptedKv`] seals every value and hides every key of the tables below it.
//!
//! The layers, top down: [`crate::Store`] → [`crate::JournalKv`] (plain values in memory only; each block's journal
//! record sealed whole with a [`RecordCipher`]) → [`EncryptedKv`] (entries sealed one by one as the checkpoint
//! thread writes them) → redb. So the journal file and the redb file only ever hold sealed bytes.
//!
//! - **Values** are sealed with XChaCha20-Poly1305. The associated data is `"keel/v1" ‖ table ‖ stored key`, so
//!   a sealed value moved to another key or table fails to open. The sealed plaintext is
//!   `key_len u8 ‖ plain key ‖ value`: a read checks that the plain key is the one asked for, and scans and
//!   [`rekey_datadir`] recover keys that are stored only as hashes. Nonces are 24 bytes: a random 16-byte
//!   prefix drawn from the OS once per process, then a 64-bit counter, so no two seals share one.
//! - **Keys** are replaced by `gen ‖ keccak256(mac_key ‖ "k" ‖ table ‖ key)` (a keyed hash: Keccak is safe as a
//!   prefix-key MAC), where `gen` is the key generation (see rekey). The only table keel scans by prefix,
//!   `storage` (address ‖ slot), keeps what the scan needs: `gen ‖ keccak256(mac_key ‖ "a" ‖ table ‖ address)[..8] ‖
//!   keyed hash of the whole key`, so one contract's slots stay together without revealing the address or the
//!   slots. Any other prefix scan walks the whole table and filters after opening. Scans hand entries out in
//!   plain-key order, as the [`crate::KvRead`] contract says.
//! - **Subkeys**: `aead_key = keccak256(key ‖ "keel/aead")`, `mac_key = keccak256(key ‖ "keel/mac")`, and the
//!   key's public id (printed in messages) `keccak256(key ‖ "keel/key-id")[..8]`.
//! - **The marker**: the one plain entry, `meta/encryption`, says the datadir is encrypted, which generation and
//!   key id its entries use and whether a rekey is under way; it carries a keyed MAC, so it cannot be edited
//!   without the key. Opening an encrypted datadir without a key, with another key, or a plain one with a key
//!   is refused by [`wrap`] before anything else is read.
//!
//! What stays visible to whoever holds the files: the table names, how many entries each holds and their sizes
//! (a sealed value is 41 bytes longer than the key-less plaintext plus its key), how many slots each (unnamed)
//! contract has, and when and how much is written and read.

use crate::{Kv, KvRead, StoreError, Table, WriteBatch, WriteOp};
use alloy_primitives::{hex, Keccak256};
use chacha20poly1305::{
    aead::{Aead, KeyInit, OsRng, Payload},
    XChaCha20Poly1305, XNonce,
};
use std::{
    path::Path,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};
use zeroize::Zeroizing;

/// Bytes in a datadir key.
pub const KEY_LEN: usize = 32;
/// The environment variable a key may be given in (64 hex digits).
pub const KEY_ENV: &str = "KEEL_DB_KEY";

/// The raw `meta` key of the marker. Every other key of an encrypted datadir is 33 or 41 bytes long, so it
/// cannot collide.
const MARKER_KEY: &[u8] = b"encryption";
const MARKER_MAGIC: &[u8; 12] = b"keel-aead-v1";
const CIPHER_XCHACHA20POLY1305: u8 = 1;
const AAD_PREFIX: &[u8] = b"keel/v1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The raw `meta` key a plain datadir's format version is under (see `store.rs`).
const PLAIN_VERSION_KEY: &[u8] = b"version";

/// A datadir key: 32 secret bytes, wiped from memory on drop. `Debug` shows only its public id.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbKey(id {})", self.id())
    }
}

impl DbKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// Parses a key written as 64 hex digits (optional `0x`, surrounding whitespace ignored) or as 32 raw bytes.
    pub fn parse(input: &[u8], source: &str) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::Key { origin: source.to_string(), reason };
        if input.len() == KEY_LEN && std::str::from_utf8(input).is_err() {
            let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
            bytes.copy_from_slice(input);
            return Ok(Self(bytes));
        }
        let text = std::str::from_utf8(input)
            .map_err(|_| {
                bad(format!("expected 64 hex digits or {KEY_LEN} raw bytes, found {} bytes", input.len()))
            })?
            .trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        if text.len() != 2 * KEY_LEN {
            return Err(bad(format!("expected 64 hex digits, found {} characters", text.len())));
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(text, bytes.as_mut()).map_err(|e| bad(format!("not hex: {e}")))?;
        Ok(Self(bytes))
    }

    /// Reads a key file (see [`DbKey::parse`]).
    pub fn read_file(path: &Path) -> Result<Self, StoreError> {
        let source = format!("key file {}", path.display());
        let raw = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| StoreError::Key { origin: source.clone(), reason: e.to_string() })?,
        );
        Self::parse(&raw, &source)
    }

    /// Writes the key as hex to a new file readable by its owner only (refuses to overwrite), synced to disk.
    pub fn write_file(&self, path: &Path) -> Result<(), StoreError> {
        use std::io::Write;
        let error = |e: std::io::Error| StoreError::Key {
            origin: format!("key file {}", path.display()),
            reason: e.to_string(),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(error)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(self.0.as_ref())));
        file.write_all(text.as_bytes()).map_err(error)?;
        file.sync_all().map_err(error)?;
        Ok(())
    }

    /// The key's public id: 8 bytes of a keyed hash, safe to print and to store.
    pub fn id(&self) -> KeyId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.derive(b"keel/key-id")[..8]);
        KeyId(id)
    }

    fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut hasher = Keccak256::new();
        hasher.update(self.0.as_ref());
        hasher.update(label);
        Zeroizing::new(hasher.finalize().0)
    }
}

/// A key's public id (see [`DbKey::id`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyId(pub [u8; 8]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One key generation's cipher: sealing, opening and key hashing.
struct Cipher {
    aead: XChaCha20Poly1305,
    mac: Zeroizing<[u8; 32]>,
    id: KeyId,
    gen: u8,
    nonce_prefix: [u8; 16],
    counter: AtomicU64,
    /// address → its 8-byte storage-key prefix: storage keys come in runs per contract, so this saves one of
    /// the two keyed hashes per storage read or write. Cleared when it reaches [`ADDRESS_CACHE_LIMIT`].
    address_prefixes: std::sync::Mutex<std::collections::HashMap<[u8; 20], [u8; 8]>>,
    /// Opened values of the content-addressed tables (trie nodes, code: the key is the value's hash, so an entry
    /// never changes): the upper trie levels are read by every block and need not be opened each time. Only
    /// values that authenticated get here. Cleared when it reaches [`OPENED_CACHE_LIMIT`] entries.
    opened: std::sync::Mutex<OpenedCache>,
}

const OPENED_CACHE_LIMIT: usize = 1 << 16;

/// (table, plain key) → opened value.
type OpenedCache = std::collections::HashMap<(Table, Vec<u8>), Arc<[u8]>>;

/// Tables whose key is the hash of the value.
fn content_addressed(table: Table) -> bool {
    matches!(table, Table::TrieNodes | Table::Code)
}

const ADDRESS_CACHE_LIMIT: usize = 1 << 16;

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher").field("key", &self.id).field("gen", &self.gen).finish_non_exhaustive()
    }
}

fn integrity(table: Table, reason: impl Into<String>) -> StoreError {
    StoreError::Integrity { table: table.name(), reason: reason.into() }
}

impl Cipher {
    fn new(key: &DbKey, gen: u8) -> Self {
        use chacha20poly1305::aead::rand_core::RngCore;
        let aead_key = key.derive(b"keel/aead");
        let mut nonce_prefix = [0u8; 16];
        OsRng.fill_bytes(&mut nonce_prefix);
        Self {
            aead: XChaCha20Poly1305::new(aead_key.as_ref().into()),
            mac: key.derive(b"keel/mac"),
            id: key.id(),
            gen,
            nonce_prefix,
            counter: AtomicU64::new(0),
            address_prefixes: Default::default(),
            opened: Default::default(),
        }
    }

    /// The storage-key prefix of the 20-byte `address`.
    fn address_prefix(&self, address: &[u8]) -> [u8; 8] {
        let compute = || {
            let mut prefix = [0u8; 8];
            prefix.copy_from_slice(&self.keyed_hash(b'a', Table::Storage, address)[..8]);
            prefix
        };
        let Ok(address) = <[u8; 20]>::try_from(address) else { return compute() };
        let Ok(mut cache) = self.address_prefixes.lock() else { return compute() };
        if let Some(prefix) = cache.get(&address) {
            return *prefix;
        }
        if cache.len() >= ADDRESS_CACHE_LIMIT {
            cache.clear();
        }
        let prefix = compute();
        cache.insert(address, prefix);
        prefix
    }

    fn keyed_hash(&self, domain: u8, table: Table, key: &[u8]) -> [u8; 32] {
        let mut hasher = Keccak256::new();
        hasher.update(self.mac.as_ref());
        hasher.update([domain, table as u8]);
        hasher.update(key);
        hasher.finalize().0
    }

    /// The key an entry is stored under.
    fn stored_key(&self, table: Table, key: &[u8]) -> Vec<u8> {
        let mut stored = Vec::with_capacity(41);
        stored.push(self.gen);
        if table == Table::Storage && key.len() >= 20 {
            stored.extend_from_slice(&self.address_prefix(&key[..20]));
        }
        stored.extend_from_slice(&self.keyed_hash(b'k', table, key));
        stored
    }

    /// The stored-key prefix under which every entry whose plain key starts with `prefix` lies.
    fn stored_prefix(&self, table: Table, prefix: &[u8]) -> Vec<u8> {
        let mut stored = vec![self.gen];
        if table == Table::Storage && prefix.len() >= 20 {
            stored.extend_from_slice(&self.address_prefix(&prefix[..20]));
        }
        stored
    }

    fn aad(table: Table, stored_key: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_PREFIX.len() + 1 + stored_key.len());
        aad.extend_from_slice(AAD_PREFIX);
        aad.push(table as u8);
        aad.extend_from_slice(stored_key);
        aad
    }

    fn seal(&self, table: Table, stored_key: &[u8], key: &[u8], value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let key_len = u8::try_from(key.len()).map_err(|_| integrity(table, "key longer than 255 bytes"))?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + key.len() + value.len()));
        plain.push(key_len);
        plain.extend_from_slice(key);
        plain.extend_from_slice(value);
        let aad = Self::aad(table, stored_key);
        let sealed = self
            .aead
            .encrypt(&XNonce::from(nonce), Payload { msg: &plain, aad: &aad })
            .map_err(|_| integrity(table, "sealing failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed value found under `stored_key`: (plain key, value).
    fn open(&self, table: Table, stored_key: &[u8], sealed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        if sealed.len() < NONCE_LEN + TAG_LEN + 1 {
            return Err(integrity(
                table,
                format!(
                    "sealed value under 0x{} is {} bytes, too short",
                    hex::encode(stored_key),
                    sealed.len()
                ),
            ));
        }
        let aad = Self::aad(table, stored_key);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let plain = Zeroizing::new(
            self.aead
                .decrypt(&XNonce::from(nonce), Payload { msg: &sealed[NONCE_LEN..], aad: &aad })
                .map_err(|_| {
                    integrity(
                        table,
                        format!(
                            "value under 0x{} fails authentication (altered, or moved from another key)",
                            hex::encode(stored_key)
                        ),
                    )
                })?,
        );
        let key_len = plain[0] as usize;
        if plain.len() < 1 + key_len {
            return Err(integrity(table, "authenticated value is shorter than its key"));
        }
        Ok((plain[1..1 + key_len].to_vec(), plain[1 + key_len..].to_vec()))
    }
}

/// The marker's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Marker {
    gen: u8,
    key: KeyId,
    /// A rekey under way: the generation and key entries are being moved to.
    pending: Option<(u8, KeyId)>,
}

impl Marker {
    fn body(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(MARKER_MAGIC);
        body.push(CIPHER_XCHACHA20POLY1305);
        body.push(self.gen);
        body.extend_from_slice(&self.key.0);
        match self.pending {
            Some((gen, key)) => {
                body.push(1);
                body.push(gen);
                body.extend_from_slice(&key.0);
            }
            None => body.extend_from_slice(&[0; 10]),
        }
        body
    }

    /// Encoded and MACed with the current generation's key.
    fn encode(&self, cipher: &Cipher) -> Vec<u8> {
        let mut out = self.body();
        let mac = cipher.keyed_hash(b'm', Table::Meta, &out);
        out.extend_from_slice(&mac);
        out
    }

    /// Decodes the fields without checking the MAC (that needs the right key).
    fn decode(raw: &[u8]) -> Result<Self, StoreError> {
        let bad = |reason: &str| integrity(Table::Meta, format!("encryption marker: {reason}"));
        if raw.len() != 32 + 32 || &raw[..12] != MARKER_MAGIC {
            return Err(bad("not a keel encryption marker (format unknown or altered)"));
        }
        if raw[12] != CIPHER_XCHACHA20POLY1305 {
            return Err(bad("unknown cipher"));
        }
        let id = |at: usize| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&raw[at..at + 8]);
            KeyId(id)
        };
        let pending = match raw[22] {
            0 => None,
            1 => Some((raw[23], id(24))),
            _ => return Err(bad("bad rekey flag")),
        };
        Ok(Self { gen: raw[13], key: id(14), pending })
    }

    fn check_mac(raw: &[u8], cipher: &Cipher) -> Result<(), StoreError> {
        let (body, mac) = raw.split_at(raw.len() - 32);
        let expected = cipher.keyed_hash(b'm', Table::Meta, body);
        // Constant time: the comparison must not tell how much of a forged MAC was right.
        let differs = expected.iter().zip(mac).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if differs != 0 || mac.len() != expected.len() {
            return Err(integrity(Table::Meta, "encryption marker fails authentication (altered)"));
        }
        Ok(())
    }
}

fn read_marker(kv: &dyn Kv) -> Result<Option<Vec<u8>>, StoreError> {
    kv.snapshot()?.get(Table::Meta, MARKER_KEY)
}

/// Whether the table layer holds anything at all.
fn is_empty(kv: &dyn Kv) -> Result<bool, StoreError> {
    let snapshot = kv.snapshot()?;
    for table in Table::ALL {
        let mut any = false;
        snapshot.scan_prefix(table, &[], &mut |_, _| {
            any = true;
            false
        })?;
        if any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Opens the table layer `inner` of the datadir `dir` (named in messages) as plain or encrypted:
/// - no key, plain datadir: `inner` itself;
/// - a key, encrypted datadir with that key: an [`EncryptedKv`];
/// - a key, empty datadir: marks it encrypted with that key;
/// - anything else is refused with a message that says which case it is.
pub fn wrap(inner: Box<dyn Kv>, key: Option<&DbKey>, dir: &Path) -> Result<Box<dyn Kv>, StoreError> {
    let path = dir.display().to_string();
    let marker = read_marker(&*inner)?;
    match (key, marker) {
        (None, None) => Ok(inner),
        (None, Some(raw)) => {
            let marker = Marker::decode(&raw)?;
            Err(StoreError::KeyRequired { path, key: marker.key.to_string() })
        }
        (Some(key), None) => {
            if !is_empty(&*inner)? {
                return Err(StoreError::NotEncrypted { path });
            }
            let cipher = Cipher::new(key, 0);
            let mut batch = WriteBatch::default();
            batch.put(
                Table::Meta,
                MARKER_KEY,
                Marker { gen: 0, key: key.id(), pending: None }.encode(&cipher),
            );
            inner.write(batch)?;
            Ok(Box::new(EncryptedKv { inner, cipher: Arc::new(cipher) }))
        }
        (Some(key), Some(raw)) => {
            let marker = Marker::decode(&raw)?;
            if let Some((_, to)) = marker.pending {
                return Err(StoreError::RekeyInterrupted {
                    path,
                    from: marker.key.to_string(),
                    to: to.to_string(),
                });
            }
            if marker.key != key.id() {
                return Err(StoreError::WrongKey {
                    path,
                    expected: marker.key.to_string(),
                    given: key.id().to_string(),
                });
            }
            let cipher = Cipher::new(key, marker.gen);
            Marker::check_mac(&raw, &cipher)?;
            Ok(Box::new(EncryptedKv { inner, cipher: Arc::new(cipher) }))
        }
    }
}

/// Whether the table layer belongs to an encrypted datadir (it holds the marker).
pub fn is_encrypted(kv: &dyn Kv) -> Result<bool, StoreError> {
    Ok(read_marker(kv)?.is_some())
}

/// Where the entry `plain_key` of `table` lies in the raw table layer `kv` of a datadir encrypted with `key`
/// (for diagnostics and tests that need to point at one sealed entry).
pub fn stored_key_for(
    kv: &dyn Kv,
    key: &DbKey,
    table: Table,
    plain_key: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let raw = read_marker(kv)?.ok_or(StoreError::NotEncrypted { path: "(table layer)".into() })?;
    let marker = Marker::decode(&raw)?;
    Ok(Cipher::new(key, marker.gen).stored_key(table, plain_key))
}

/// The key id an encrypted table layer's entries are under, when no rekey is under way.
pub(crate) fn current_key(kv: &dyn Kv) -> Result<Option<KeyId>, StoreError> {
    match read_marker(kv)? {
        Some(raw) => {
            let marker = Marker::decode(&raw)?;
            Ok(marker.pending.is_none().then_some(marker.key))
        }
        None => Ok(None),
    }
}

/// A plain datadir's format-version entry, visible without a key (used to tell plain from empty).
pub(crate) fn has_plain_version(kv: &dyn Kv) -> Result<bool, StoreError> {
    Ok(kv.snapshot()?.get(Table::Meta, PLAIN_VERSION_KEY)?.is_some())
}

/// The encrypting table layer (see the module docs).
#[derive(Debug)]
pub struct EncryptedKv {
    inner: Box<dyn Kv>,
    cipher: Arc<Cipher>,
}

impl EncryptedKv {
    fn seal_batch(cipher: &Cipher, batch: WriteBatch) -> Result<WriteBatch, StoreError> {
        let mut sealed = WriteBatch { ops: Vec::with_capacity(batch.ops.len()) };
        for op in batch.ops {
            match op {
                WriteOp::Put { table, key, value } => {
                    let stored = cipher.stored_key(table, &key);
                    let value = cipher.seal(table, &stored, &key, &value)?;
                    sealed.ops.push(WriteOp::Put { table, key: stored, value });
                }
                WriteOp::Delete { table, key } => {
                    sealed.ops.push(WriteOp::Delete { table, key: cipher.stored_key(table, &key) });
                }
            }
        }
        Ok(sealed)
    }
}

impl Kv for EncryptedKv {
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError> {
        Ok(Box::new(EncryptedSnapshot { inner: self.inner.snapshot()?, cipher: self.cipher.clone() }))
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.inner.write(Self::seal_batch(&self.cipher, batch)?)
    }
}

/// A consistent read view through the cipher.
struct EncryptedSnapshot {
    inner: Box<dyn KvRead>,
    cipher: Arc<Cipher>,
}

impl KvRead for EncryptedSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cached = content_addressed(table);
        if cached {
            if let Some(value) =
                self.cipher.opened.lock().ok().and_then(|c| c.get(&(table, key.to_vec())).cloned())
            {
                return Ok(Some(value.to_vec()));
            }
        }
        let stored = self.cipher.stored_key(table, key);
        let Some(sealed) = self.inner.get(table, &stored)? else { return Ok(None) };
        let (plain_key, value) = self.cipher.open(table, &stored, &sealed)?;
        if plain_key != key {
            return Err(integrity(
                table,
                format!("value under 0x{} belongs to another key", hex::encode(&stored)),
            ));
        }
        if cached {
            if let Ok(mut cache) = self.cipher.opened.lock() {
                if cache.len() >= OPENED_CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert((table, key.to_vec()), Arc::from(value.as_slice()));
            }
        }
        Ok(Some(value))
    }

    fn scan_prefix(
        &self,
        table: Table,
        prefix: &[u8],
        f: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // Stored keys are hashes: gather what matches, then hand it out in plain-key order.
        let stored_prefix = self.cipher.stored_prefix(table, prefix);
        let mut found = Vec::new();
        let mut failure = None;
        self.inner.scan_prefix(table, &stored_prefix, &mut |stored, sealed| {
            if table == Table::Meta && stored == MARKER_KEY {
                return true;
            }
            match self.cipher.open(table, stored, sealed) {
                Ok((key, value)) => {
                    if key.starts_with(prefix) {
                        found.push((key, value));
                    }
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, value) in &found {
            if !f(key, value) {
                break;
            }
        }
        Ok(())
    }
}

/// Moves every entry of an encrypted table layer from the key `old` to the key `new`, in atomic batches of
/// `batch_size` entries, calling `after_batch(moved so far)` after each. Resumable: the marker records the rekey
/// before the first entry moves, entries not yet moved are still under the old generation, and running it again
/// with the same two keys finishes the job. Returns how many entries were moved (by this run).
pub fn rekey(
    kv: &dyn Kv,
    old: &DbKey,
    new: &DbKey,
    batch_size: usize,
    after_batch: &mut dyn FnMut(u64) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let raw = read_marker(kv)?.ok_or(StoreError::NotEncrypted { path: "(table layer)".into() })?;
    let marker = Marker::decode(&raw)?;
    if marker.pending.is_none() && marker.key == new.id() {
        // Already done (a rerun after the last step).
        Marker::check_mac(&raw, &Cipher::new(new, marker.gen))?;
        return Ok(0);
    }
    if marker.key != old.id() {
        return Err(StoreError::WrongKey {
            path: "(table layer)".into(),
            expected: marker.key.to_string(),
            given: old.id().to_string(),
        });
    }
    let from = Cipher::new(old, marker.gen);
    Marker::check_mac(&raw, &from)?;
    let to_gen = match marker.pending {
        Some((gen, id)) if id == new.id() => gen,
        Some((_, id)) => {
            return Err(StoreError::WrongKey {
                path: "(table layer): the interrupted rekey moves to another new key".into(),
                expected: id.to_string(),
                given: new.id().to_string(),
            })
        }
        None => {
            if old.id() == new.id() {
                return Err(StoreError::Key {
                    origin: "rekey".into(),
                    reason: "the new key is the old key".into(),
                });
            }
            let gen = marker.gen.wrapping_add(1);
            let mut batch = WriteBatch::default();
            let pending = Marker { pending: Some((gen, new.id())), ..marker };
            batch.put(Table::Meta, MARKER_KEY, pending.encode(&from));
            kv.write(batch)?;
            gen
        }
    };
    let to = Cipher::new(new, to_gen);
    let mut moved = 0u64;
    for table in Table::ALL {
        loop {
            let snapshot = kv.snapshot()?;
            let mut batch = WriteBatch::default();
            let mut failure = None;
            snapshot.scan_prefix(table, &[from.gen], &mut |stored, sealed| {
                if table == Table::Meta && stored == MARKER_KEY {
                    return true;
                }
                let moved = from.open(table, stored, sealed).and_then(|(key, value)| {
                    let new_stored = to.stored_key(table, &key);
                    let value = to.seal(table, &new_stored, &key, &value)?;
                    Ok((new_stored, value))
                });
                match moved {
                    Ok((new_stored, value)) => {
                        batch.delete(table, stored);
                        batch.put(table, new_stored, value);
                        batch.len() < 2 * batch_size
                    }
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                }
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            if batch.is_empty() {
                break;
            }
            moved += batch.len() as u64 / 2;
            kv.write(batch)?;
            after_batch(moved)?;
        }
    }
    let mut batch = WriteBatch::default();
    batch.put(Table::Meta, MARKER_KEY, Marker { gen: to_gen, key: new.id(), pending: None }.encode(&to));
    kv.write(batch)?;
    Ok(moved)
}

/// Seals whole records of a side file of the datadir (the txpool journal) with a subkey of the datadir key
/// bound to `label`: a record sealed for one file does not open as another's.
pub struct RecordCipher {
    aead: XChaCha20Poly1305,
    label: Vec<u8>,
    nonce_prefix: [u8; 16],
    counter: AtomicU64,
}

impl std::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("label", &String::from_utf8_lossy(&self.label))
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    pub fn new(key: &DbKey, label: &str) -> Self {
        use chacha20poly1305::aead::rand_core::RngCore;
        let mut derivation = b"keel/file/".to_vec();
        derivation.extend_from_slice(label.as_bytes());
        let aead_key = key.derive(&derivation);
        let mut nonce_prefix = [0u8; 16];
        OsRng.fill_bytes(&mut nonce_prefix);
        Self {
            aead: XChaCha20Poly1305::new(aead_key.as_ref().into()),
            label: derivation,
            nonce_prefix,
            counter: AtomicU64::new(0),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, record: &[u8]) -> Vec<u8> {
        self.seal_with(record, &[])
    }

    /// The record, if `sealed` authenticates.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.open_with(sealed, &[])
    }

    fn aad(&self, context: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.label.len() + context.len());
        aad.extend_from_slice(&self.label);
        aad.extend_from_slice(context);
        aad
    }

    /// [`RecordCipher::seal`] with `context` (e.g. the record's position) bound in as associated data.
    pub fn seal_with(&self, record: &[u8], context: &[u8]) -> Vec<u8> {
        let aad = self.aad(context);
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&self.counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let mut out = nonce.to_vec();
        // Encryption only fails for plaintexts beyond 2^38 bytes, which no record comes near.
        if let Ok(sealed) = self.aead.encrypt(&XNonce::from(nonce), Payload { msg: record, aad: &aad }) {
            out.extend_from_slice(&sealed);
        }
        out
    }

    /// The record, if `sealed` authenticates with `context`.
    pub fn open_with(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let aad = self.aad(context);
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        self.aead.decrypt(&XNonce::from(nonce), Payload { msg: &sealed[NONCE_LEN..], aad: &aad }).ok()
    }
}
