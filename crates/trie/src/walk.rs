//! Enumerating every leaf of a committed trie, straight from the node store.

use crate::{
    node::{RawNode, RawRef},
    trie::load,
    NodeStore, TrieError, EMPTY_ROOT,
};
use alloc::vec::Vec;
use alloy_primitives::{Bytes, B256};

/// Calls `f(key, value)` for every key of the committed trie `root` in `store`, in key order.
///
/// Every node read is checked against its hash, so a walk that completes has seen exactly the data the root
/// commits to: rebuilding a trie from the visited pairs must give `root` back (that is how the store checks
/// its own state after a crash). A key with an odd number of nibbles cannot come from a byte key and is reported
/// as a malformed node.
pub fn for_each_leaf<S: NodeStore + ?Sized>(
    store: &S,
    root: B256,
    mut f: impl FnMut(&[u8], &Bytes) -> Result<(), TrieError>,
) -> Result<(), TrieError> {
    if root == EMPTY_ROOT {
        return Ok(());
    }
    let rlp = load(store, &root)?;
    let mut path = Vec::with_capacity(64);
    walk(store, root, &rlp, &rlp, &mut path, &mut f)
}

/// Visits the node `rlp` (stored as, or inlined in, the node `hash` whose RLP is `stored`) at nibble path `path`.
fn walk<S: NodeStore + ?Sized>(
    store: &S,
    hash: B256,
    stored: &Bytes,
    rlp: &[u8],
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &Bytes) -> Result<(), TrieError>,
) -> Result<(), TrieError> {
    let malformed = |reason: alloc::string::String| TrieError::MalformedNode { hash, reason };
    let depth = path.len();
    match RawNode::parse(rlp).map_err(malformed)? {
        RawNode::Leaf { path: p, value } => {
            path.extend(p.nibbles());
            let value = crate::node::slice_of(stored, value);
            emit(hash, path, &value, f)?;
        }
        RawNode::Extension { path: p, child } => {
            path.extend(p.nibbles());
            visit_child(store, hash, stored, child, path, f)?;
        }
        RawNode::Branch { children, value } => {
            if let Some(value) = value {
                let value = crate::node::slice_of(stored, value);
                emit(hash, path, &value, f)?;
            }
            for (nibble, child) in (0u8..).zip(children) {
                if matches!(child, RawRef::Empty) {
                    continue;
                }
                path.push(nibble);
                visit_child(store, hash, stored, child, path, f)?;
                path.pop();
            }
        }
    }
    path.truncate(depth);
    Ok(())
}

fn visit_child<S: NodeStore + ?Sized>(
    store: &S,
    hash: B256,
    stored: &Bytes,
    child: RawRef<'_>,
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], &Bytes) -> Result<(), TrieError>,
) -> Result<(), TrieError> {
    match child {
        RawRef::Empty => Ok(()),
        RawRef::Inline(inline) => walk(store, hash, stored, inline, path, f),
        RawRef::Hash(child_hash) => {
            let rlp = load(store, &child_hash)?;
            walk(store, child_hash, &rlp, &rlp, path, f)
        }
    }
}

fn emit(
    hash: B256,
    nibbles: &[u8],
    value: &Bytes,
    f: &mut impl FnMut(&[u8], &Bytes) -> Result<(), TrieError>,
) -> Result<(), TrieError> {
    if !nibbles.len().is_multiple_of(2) {
        return Err(TrieError::MalformedNode {
            hash,
            reason: "leaf key has an odd number of nibbles".into(),
        });
    }
    let key: Vec<u8> = nibbles.chunks_exact(2).map(|pair| (pair[0] << 4) | pair[1]).collect();
    f(&key, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryNodeStore, Trie};
    use alloy_primitives::keccak256;

    #[test]
    fn walk_visits_every_key_in_order_and_rebuilds_root() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        let mut expected = alloc::collections::BTreeMap::new();
        for i in 0u32..500 {
            // Mix short keys (inlined nodes, branch values) with hashed ones.
            let key =
                if i % 5 == 0 { i.to_be_bytes()[2..].to_vec() } else { keccak256(i.to_be_bytes()).to_vec() };
            let value = alloc::vec![1u8; (i % 40) as usize + 1];
            trie.insert(&key, &value).unwrap();
            expected.insert(key, value);
        }
        let (root, nodes) = trie.commit();
        let store: MemoryNodeStore = nodes.into_iter().collect();
        let mut seen = Vec::new();
        for_each_leaf(&store, root, |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, expected.into_iter().collect::<Vec<_>>());
        let mut rebuilt = Trie::new(MemoryNodeStore::new());
        rebuilt.apply_batch(seen.iter().map(|(k, v)| (k, Some(v)))).unwrap();
        assert_eq!(rebuilt.root(), root);
    }

    #[test]
    fn walk_reports_missing_node() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for i in 0u32..50 {
            trie.insert(keccak256(i.to_be_bytes()).as_slice(), b"value-long-enough-to-hash-1234567890")
                .unwrap();
        }
        let (root, nodes) = trie.commit();
        let mut store: MemoryNodeStore = nodes.into_iter().collect();
        let victim = *store.iter().map(|(h, _)| h).find(|h| **h != root).unwrap();
        store.remove(&victim);
        let err = for_each_leaf(&store, root, |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, TrieError::NodeNotFound(h) if h == victim), "{err}");
    }
}
