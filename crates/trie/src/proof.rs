//! Merkle proof verification.

use crate::{nibbles::KeyNibbles, trie::walk_stored, TrieError, EMPTY_ROOT};
use alloc::format;
use alloy_primitives::{keccak256, Bytes, B256};

/// Verifies a proof (as produced by [`Trie::prove`](crate::Trie::prove) or geth's `eth_getProof`)
/// that `key` has some value, or none, in the trie with root hash `root`.
///
/// Returns `Ok(Some(value))` for a valid inclusion proof, `Ok(None)` for a valid exclusion proof and
/// [`TrieError::InvalidProof`] otherwise. The proof must be exactly the nodes on the path, root
/// first: each must hash to the reference in its parent, and there must be no extra items. For
/// the empty trie, the proof is empty (a single empty-string node `0x80` is accepted too).
///
/// For a secure trie, pass `keccak256(key)` as `key`.
pub fn verify_proof(root: B256, key: &[u8], proof: &[Bytes]) -> Result<Option<Bytes>, TrieError> {
    if root == EMPTY_ROOT {
        return match proof {
            [] => Ok(None),
            [node] if node.as_ref() == [alloy_rlp::EMPTY_STRING_CODE] => Ok(None),
            _ => Err(TrieError::InvalidProof("non-empty proof for the empty trie".into())),
        };
    }
    let path = KeyNibbles::new(key);
    let mut items = proof.iter().enumerate();
    let value = walk_stored(
        root,
        &path,
        |hash| {
            let (i, node) = items.next().ok_or_else(|| {
                TrieError::InvalidProof(format!("proof ends before node {hash} is reached"))
            })?;
            if keccak256(node) != *hash {
                return Err(TrieError::InvalidProof(format!("proof item {i} does not hash to {hash}")));
            }
            Ok(node.clone())
        },
        |_| {},
    )
    .map_err(|e| match e {
        TrieError::MalformedNode { hash, reason } => {
            TrieError::InvalidProof(format!("malformed proof node {hash}: {reason}"))
        }
        e => e,
    })?;
    if items.next().is_some() {
        return Err(TrieError::InvalidProof("proof has extra items after the path ends".into()));
    }
    Ok(value)
}
