//! Preimage keys: 32 bytes, byte 0 the type.

use crate::PreimageError;
use alloy_primitives::{hex, keccak256, B256};
use sha2::{Digest, Sha256};

/// The key types (PREIMAGE.md, "Keys").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Boot data the host is told; nobody can check it.
    Local = 1,
    Keccak256 = 2,
    Sha256 = 4,
    /// KZG blob point evaluation (not used by keel yet).
    BlobPoint = 5,
    /// Precompile result (not used by keel yet).
    Precompile = 6,
}

/// A 32-byte preimage key with a legal type byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PreimageKey([u8; 32]);

impl std::fmt::Debug for PreimageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PreimageKey(0x{})", hex::encode(self.0))
    }
}

impl std::fmt::Display for PreimageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.key_type() {
            KeyType::Local => "local",
            KeyType::Keccak256 => "keccak256",
            KeyType::Sha256 => "sha256",
            KeyType::BlobPoint => "blob point",
            KeyType::Precompile => "precompile",
        };
        write!(f, "{kind} key 0x{}", hex::encode(self.0))
    }
}

fn typed(mut hash: [u8; 32], key_type: KeyType) -> PreimageKey {
    hash[0] = key_type as u8;
    PreimageKey(hash)
}

impl PreimageKey {
    /// Local (boot) key `index`: bytes 1..24 zero, bytes 24..32 the index.
    pub fn local(index: u64) -> Self {
        let mut key = [0u8; 32];
        key[0] = KeyType::Local as u8;
        key[24..].copy_from_slice(&index.to_be_bytes());
        Self(key)
    }

    /// The keccak256 key of `value`.
    pub fn keccak(value: &[u8]) -> Self {
        Self::keccak_hash(keccak256(value))
    }

    /// The keccak256 key for a value whose keccak256 is `hash` (e.g. a trie node or block hash).
    pub fn keccak_hash(hash: B256) -> Self {
        typed(hash.0, KeyType::Keccak256)
    }

    /// The sha256 key of `value`.
    pub fn sha256(value: &[u8]) -> Self {
        typed(Sha256::digest(value).into(), KeyType::Sha256)
    }

    /// Parses 32 bytes, refusing illegal (0) and reserved (3, 7–255) types.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, PreimageError> {
        let bad = |reason| PreimageError::BadKey { key: hex::encode(bytes), key_type: bytes[0], reason };
        match bytes[0] {
            1 | 2 | 4 | 5 | 6 => Ok(Self(bytes)),
            0 => Err(bad("illegal")),
            3 => Err(bad("reserved (global generic)")),
            _ => Err(bad("reserved")),
        }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn key_type(&self) -> KeyType {
        match self.0[0] {
            1 => KeyType::Local,
            2 => KeyType::Keccak256,
            4 => KeyType::Sha256,
            5 => KeyType::BlobPoint,
            _ => KeyType::Precompile,
        }
    }

    /// The local index of a local key.
    pub fn local_index(&self) -> Option<u64> {
        (self.key_type() == KeyType::Local)
            .then(|| u64::from_be_bytes(self.0[24..].try_into().expect("8 bytes")))
    }

    /// Whether `value` is this key's preimage, for the types anyone can check (keccak256, sha256). Other types
    /// cannot be checked here and return `true`.
    pub fn matches(&self, value: &[u8]) -> bool {
        match self.key_type() {
            KeyType::Keccak256 => Self::keccak(value) == *self,
            KeyType::Sha256 => Self::sha256(value) == *self,
            KeyType::Local | KeyType::BlobPoint | KeyType::Precompile => true,
        }
    }
}
