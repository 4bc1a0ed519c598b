//! `keel-trie`: Ethereum's Merkle-Patricia trie, with nodes in a store keyed by the keccak256 of
//! their RLP.
//!
//! Where to start reading:
//! - [`Trie`] (in `trie.rs`): lookups, single and batched updates, root hashing, commit and proofs.
//!   It loads nodes lazily from a [`NodeStore`], keeps modified nodes in memory and caches hashes so
//!   that [`Trie::root`] only rehashes what changed.
//! - [`NodeStore`] / [`MemoryNodeStore`] (in `store.rs`): where nodes live. The trie checks every node
//!   it reads against its hash, so it can run over an untrusted store (e.g. a stateless oracle).
//! - [`SecureTrie`]: the same trie keyed by `keccak256(key)` (Ethereum's state and storage tries).
//! - [`verify_proof`]: checks the proofs made by [`Trie::prove`].
//! - [`for_each_leaf`]: walks every key of a committed trie (state dumps, integrity checks).
//! - [`prefetch`]: visits the nodes some lookups will read one level at a time, so that a store behind a round
//!   trip (the proof client's oracle) can be asked for a whole level at once.
//! - `node.rs` has the node encoding (Yellow Paper appendix D) and the parsing of stored nodes;
//!   `nibbles.rs` the hex-prefix encoding (appendix C).
//!
//! RLP primitives come from `alloy-rlp` and hashing from `alloy-primitives`; the trie logic is here.
//!
//! ```
//! use keel_trie::{Bytes, MemoryNodeStore, Trie};
//!
//! let mut trie = Trie::new(MemoryNodeStore::new());
//! trie.insert(b"dog", b"puppy").unwrap();
//! trie.insert(b"doge", b"coin").unwrap();
//! let (root, nodes) = trie.commit();
//!
//! let mut store = MemoryNodeStore::new();
//! store.insert_batch(nodes);
//! let reopened = Trie::open(root, store);
//! assert_eq!(reopened.get(b"doge").unwrap(), Some(Bytes::from_static(b"coin")));
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

extern crate alloc;

mod nibbles;
mod node;
mod prefetch;
mod proof;
mod secure;
mod store;
mod trie;
mod walk;

pub use alloy_primitives::{Bytes, B256};
pub use prefetch::{prefetch, Paths};
pub use proof::verify_proof;
pub use secure::SecureTrie;
pub use store::{MemoryNodeStore, NodeStore};
pub use trie::Trie;
pub use walk::for_each_leaf;

/// Root hash of the empty trie: `keccak256(rlp(""))`.
pub const EMPTY_ROOT: B256 =
    alloy_primitives::b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Errors from trie operations.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// The store does not have a node the trie needs.
    #[error("trie node {0} not found in node store")]
    NodeNotFound(B256),
    /// A node read from the store is not a valid trie node (or does not match its hash).
    #[error("trie node {hash} is malformed: {reason}")]
    MalformedNode {
        /// Hash of the stored node (for a malformed inlined node, of the node containing it).
        hash: B256,
        /// What is wrong with it.
        reason: String,
    },
    /// The node store failed.
    #[error("node store failure: {0}")]
    Store(String),
    /// A proof does not verify.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_keccak_of_empty_string() {
        assert_eq!(EMPTY_ROOT, alloy_primitives::keccak256([alloy_rlp::EMPTY_STRING_CODE]));
    }
}
