//! The secure trie: a [`Trie`] keyed by `keccak256(key)`.

use crate::{NodeStore, Trie, TrieError};
use alloc::vec::Vec;
use alloy_primitives::{keccak256, Bytes, B256};

/// A trie whose keys are `keccak256(key)`: Ethereum's state and storage tries.
///
/// Methods mirror [`Trie`] and hash their keys; the `*_hashed` variants take keys that are already
/// hashed, so callers that have the hash do not compute it twice.
#[derive(Debug, Clone)]
pub struct SecureTrie<S> {
    inner: Trie<S>,
}

impl<S: NodeStore> SecureTrie<S> {
    /// An empty secure trie.
    pub fn new(store: S) -> Self {
        Self { inner: Trie::new(store) }
    }

    /// The secure trie with root hash `root` in `store` (see [`Trie::open`]).
    pub fn open(root: B256, store: S) -> Self {
        Self { inner: Trie::open(root, store) }
    }

    /// The underlying trie (keyed by hashed keys).
    pub fn inner(&self) -> &Trie<S> {
        &self.inner
    }

    /// The underlying trie, mutably (keyed by hashed keys).
    pub fn inner_mut(&mut self) -> &mut Trie<S> {
        &mut self.inner
    }

    /// Consumes the secure trie, returning the underlying trie.
    pub fn into_inner(self) -> Trie<S> {
        self.inner
    }

    /// The node store.
    pub fn store(&self) -> &S {
        self.inner.store()
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TrieError> {
        self.get_hashed(&keccak256(key))
    }

    /// The value stored under the key whose hash is `hashed_key`.
    pub fn get_hashed(&self, hashed_key: &B256) -> Result<Option<Bytes>, TrieError> {
        self.inner.get(hashed_key.as_slice())
    }

    /// Sets `key` to `value`; an empty value removes the key.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        self.inner.insert(keccak256(key).as_slice(), value)
    }

    /// Sets the key whose hash is `hashed_key`; an empty value removes it.
    pub fn insert_hashed(&mut self, hashed_key: &B256, value: &[u8]) -> Result<(), TrieError> {
        self.inner.insert(hashed_key.as_slice(), value)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        self.inner.remove(keccak256(key).as_slice())
    }

    /// Removes the key whose hash is `hashed_key`.
    pub fn remove_hashed(&mut self, hashed_key: &B256) -> Result<(), TrieError> {
        self.inner.remove(hashed_key.as_slice())
    }

    /// Applies many updates at once (see [`Trie::apply_batch`]); keys are hashed.
    pub fn apply_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        updates: impl IntoIterator<Item = (K, Option<V>)>,
    ) -> Result<(), TrieError> {
        self.apply_batch_hashed(updates.into_iter().map(|(k, v)| (keccak256(k.as_ref()), v)))
    }

    /// Applies many updates whose keys are already hashed (see [`Trie::apply_batch`]).
    pub fn apply_batch_hashed<V: AsRef<[u8]>>(
        &mut self,
        updates: impl IntoIterator<Item = (B256, Option<V>)>,
    ) -> Result<(), TrieError> {
        self.inner.apply_batch(updates)
    }

    /// The root hash (see [`Trie::root`]).
    pub fn root(&mut self) -> B256 {
        self.inner.root()
    }

    /// The root hash and the new nodes to persist (see [`Trie::commit`]).
    pub fn commit(&mut self) -> (B256, Vec<(B256, Bytes)>) {
        self.inner.commit()
    }

    /// A proof for `key` (see [`Trie::prove`]); verify it with
    /// [`verify_proof`](crate::verify_proof)`(root, keccak256(key), proof)`.
    pub fn prove(&self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        self.prove_hashed(&keccak256(key))
    }

    /// A proof for the key whose hash is `hashed_key`.
    pub fn prove_hashed(&self, hashed_key: &B256) -> Result<Vec<Bytes>, TrieError> {
        self.inner.prove(hashed_key.as_slice())
    }
}
