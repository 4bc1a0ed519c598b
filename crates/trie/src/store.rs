//! Node stores: where trie nodes live, keyed by `keccak256(rlp(node))`.

use crate::TrieError;
use alloc::{boxed::Box, rc::Rc, sync::Arc};
use alloy_primitives::{keccak256, map::B256Map, Bytes, B256};

/// Where trie nodes live, keyed by `keccak256(rlp(node))`.
///
/// Only nodes whose RLP is at least 32 bytes are stored (shorter ones are inlined into their parent,
/// as Ethereum does), plus the root node, which is stored by hash whatever its size. Reads may fail
/// (database error, oracle error). The trie verifies every node it reads against its hash, so a
/// store may be untrusted.
pub trait NodeStore {
    /// The RLP of the node with this hash; `Ok(None)` if the store does not have it.
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError>;
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for &mut T {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Box<T> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Rc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        (**self).node(hash)
    }
}

/// An in-memory [`NodeStore`].
#[derive(Debug, Default, Clone)]
pub struct MemoryNodeStore {
    nodes: B256Map<Bytes>,
}

impl MemoryNodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a node under `hash` (normally `keccak256(rlp)`; not checked here, readers check it).
    pub fn insert(&mut self, hash: B256, rlp: Bytes) {
        self.nodes.insert(hash, rlp);
    }

    /// Stores a node under `keccak256(rlp)` and returns the hash.
    pub fn insert_rlp(&mut self, rlp: Bytes) -> B256 {
        let hash = keccak256(&rlp);
        self.nodes.insert(hash, rlp);
        hash
    }

    /// Stores many nodes, e.g. the output of [`Trie::commit`](crate::Trie::commit).
    pub fn insert_batch(&mut self, nodes: impl IntoIterator<Item = (B256, Bytes)>) {
        self.nodes.extend(nodes);
    }

    /// The node stored under `hash`.
    pub fn get(&self, hash: &B256) -> Option<&Bytes> {
        self.nodes.get(hash)
    }

    /// Removes the node stored under `hash`, returning it.
    pub fn remove(&mut self, hash: &B256) -> Option<Bytes> {
        self.nodes.remove(hash)
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Iterates over the stored `(hash, rlp)` pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&B256, &Bytes)> {
        self.nodes.iter()
    }
}

impl Extend<(B256, Bytes)> for MemoryNodeStore {
    fn extend<I: IntoIterator<Item = (B256, Bytes)>>(&mut self, iter: I) {
        self.nodes.extend(iter);
    }
}

impl FromIterator<(B256, Bytes)> for MemoryNodeStore {
    fn from_iter<I: IntoIterator<Item = (B256, Bytes)>>(iter: I) -> Self {
        Self { nodes: iter.into_iter().collect() }
    }
}

impl NodeStore for MemoryNodeStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        Ok(self.nodes.get(hash).cloned())
    }
}
