//! Fetching the nodes that lookups will read, one trie level at a time, so that a store behind a round trip
//! (the proof client's preimage oracle) can be asked for a whole level at once instead of node by node.

use crate::{
    nibbles::unpack,
    node::{RawNode, RawRef},
    TrieError, EMPTY_ROOT,
};
use alloc::{collections::BTreeMap, vec::Vec};
use alloy_primitives::{keccak256, Bytes, B256};

/// Which nodes [`prefetch`] visits.
#[derive(Debug, Clone, Copy)]
pub enum Paths<'a> {
    /// Every node of the trie (an ordered trie that is read whole: a block's transactions or withdrawals).
    All,
    /// The nodes on the paths to these keys (as given to [`crate::Trie::get`]; a secure trie's callers pass
    /// `keccak256(key)`), whether the keys are present or not.
    Keys(&'a [&'a [u8]]),
}

/// Visits the stored nodes of the trie `root` that `paths` selects, breadth first. `fetch` receives the hashes of
/// one level (deduplicated, in ascending order: the order never depends on anything but the trie and the keys)
/// and returns their RLP in the same order; each node is checked against its hash before it is followed. Returns
/// the number of nodes visited.
///
/// The point is the batching: a lookup afterwards reads the same nodes one at a time, and finds them wherever
/// `fetch` put them (a cache). A node that does not parse stops the walk below it without an error: the lookup
/// that reads it reports it, with its context.
pub fn prefetch(
    root: B256,
    paths: Paths<'_>,
    mut fetch: impl FnMut(&[B256]) -> Result<Vec<Bytes>, TrieError>,
) -> Result<usize, TrieError> {
    if root == EMPTY_ROOT || matches!(paths, Paths::Keys([])) {
        return Ok(0);
    }
    // Each pending node with the remaining nibbles of the keys that pass through it (unused for `All`).
    let keys: Vec<Vec<u8>> = match paths {
        Paths::All => Vec::new(),
        Paths::Keys(keys) => keys.iter().map(|key| unpack(key)).collect(),
    };
    let all = matches!(paths, Paths::All);
    let mut level: BTreeMap<B256, Vec<&[u8]>> = BTreeMap::new();
    let mut next_all: BTreeMap<B256, Vec<&[u8]>> = BTreeMap::new();
    level.insert(root, keys.iter().map(Vec::as_slice).collect());
    // Identical subtrees share hashes, so a node can turn up again on a later level: it is fetched once.
    let mut fetched: BTreeMap<B256, Bytes> = BTreeMap::new();
    while !level.is_empty() {
        let wanted: Vec<B256> = level.keys().filter(|h| !fetched.contains_key(*h)).copied().collect();
        if !wanted.is_empty() {
            let nodes = fetch(&wanted)?;
            if nodes.len() != wanted.len() {
                return Err(TrieError::Store(alloc::format!(
                    "prefetch asked for {} nodes and got {}",
                    wanted.len(),
                    nodes.len()
                )));
            }
            for (hash, rlp) in wanted.into_iter().zip(nodes) {
                if keccak256(&rlp) != hash {
                    return Err(TrieError::MalformedNode { hash, reason: "hash mismatch".into() });
                }
                fetched.insert(hash, rlp);
                // Below a node seen before, `All` has nothing new to visit.
                if all {
                    let rlp = &fetched[&hash];
                    descend(rlp, None, &mut next_all);
                }
            }
        }
        let mut next: BTreeMap<B256, Vec<&[u8]>> = core::mem::take(&mut next_all);
        if !all {
            for (hash, rest) in core::mem::take(&mut level) {
                let rlp = &fetched[&hash];
                for path in rest {
                    descend(rlp, Some(path), &mut next);
                }
            }
        }
        level = next;
    }
    let visited = fetched.len();
    Ok(visited)
}

/// Follows `path` (or, with `None`, every child) through the node `rlp` and its inlined children, adding the
/// stored children reached to `next`.
fn descend<'k>(rlp: &[u8], path: Option<&'k [u8]>, next: &mut BTreeMap<B256, Vec<&'k [u8]>>) {
    let Ok(node) = RawNode::parse(rlp) else { return };
    let mut follow = |child: RawRef<'_>, rest: Option<&'k [u8]>| match child {
        RawRef::Empty => {}
        RawRef::Inline(inline) => descend(inline, rest, next),
        RawRef::Hash(hash) => {
            let entry = next.entry(hash).or_default();
            entry.extend(rest);
        }
    };
    match (node, path) {
        (RawNode::Leaf { .. }, _) => {}
        (RawNode::Extension { path: p, child }, Some(path)) => {
            if p.is_prefix_of(path) {
                follow(child, Some(&path[p.len()..]));
            }
        }
        (RawNode::Extension { child, .. }, None) => follow(child, None),
        (RawNode::Branch { children, .. }, Some(path)) => {
            if let Some((&nibble, rest)) = path.split_first() {
                follow(children[usize::from(nibble & 0x0f)], Some(rest));
            }
        }
        (RawNode::Branch { children, .. }, None) => {
            for child in children {
                follow(child, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryNodeStore, NodeStore, SecureTrie, Trie};
    use alloc::vec;
    use core::cell::RefCell;

    /// A store that counts reads and hands out levels from a committed trie.
    struct Counting {
        nodes: MemoryNodeStore,
        reads: RefCell<Vec<B256>>,
    }

    impl NodeStore for Counting {
        fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
            self.reads.borrow_mut().push(*hash);
            self.nodes.node(hash)
        }
    }

    fn fetch_from<'s>(
        store: &'s MemoryNodeStore,
        levels: &'s RefCell<Vec<Vec<B256>>>,
    ) -> impl FnMut(&[B256]) -> Result<Vec<Bytes>, TrieError> + 's {
        move |hashes| {
            levels.borrow_mut().push(hashes.to_vec());
            hashes.iter().map(|h| store.node(h)?.ok_or(TrieError::NodeNotFound(*h))).collect()
        }
    }

    #[test]
    fn all_visits_exactly_the_nodes_lookups_read() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for i in 0usize..900 {
            trie.insert(&alloy_rlp::encode(i), &vec![7u8; 100 + i % 30]).unwrap();
        }
        let (root, nodes) = trie.commit();
        let store: MemoryNodeStore = nodes.into_iter().collect();
        let levels = RefCell::new(Vec::new());
        let visited = prefetch(root, Paths::All, fetch_from(&store, &levels)).unwrap();
        let counting = Counting { nodes: store, reads: RefCell::new(Vec::new()) };
        let reopened = Trie::open(root, &counting);
        for i in 0usize..900 {
            assert!(reopened.get(&alloy_rlp::encode(i)).unwrap().is_some());
        }
        let mut read: Vec<B256> = counting.reads.take();
        read.sort();
        read.dedup();
        let mut fetched: Vec<B256> = levels.borrow().iter().flatten().copied().collect();
        fetched.sort();
        assert_eq!(fetched, read, "prefetch fetches what the lookups read, once each");
        assert_eq!(visited, read.len());
        // 900 keys (RLP-encoded indices, 1 to 3 bytes): a handful of levels, not hundreds of single reads.
        assert!(levels.borrow().len() <= 6, "{} levels", levels.borrow().len());
    }

    #[test]
    fn keys_visit_the_paths_of_present_and_absent_keys() {
        let mut trie = SecureTrie::new(MemoryNodeStore::new());
        for i in 0u32..2000 {
            trie.insert(&i.to_be_bytes(), &[1u8; 70]).unwrap();
        }
        let (root, nodes) = trie.commit();
        let store: MemoryNodeStore = nodes.into_iter().collect();
        // Present and absent keys, one twice.
        let wanted: Vec<B256> =
            [5u32, 17, 1999, 5000, 17].iter().map(|i| keccak256(i.to_be_bytes())).collect();
        let keys: Vec<&[u8]> = wanted.iter().map(|k| k.as_slice()).collect();
        let levels = RefCell::new(Vec::new());
        prefetch(root, Paths::Keys(&keys), fetch_from(&store, &levels)).unwrap();
        let counting = Counting { nodes: store, reads: RefCell::new(Vec::new()) };
        let reopened = SecureTrie::open(root, &counting);
        for i in [5u32, 17, 1999, 5000] {
            assert_eq!(reopened.get(&i.to_be_bytes()).unwrap().is_some(), i < 2000);
        }
        let mut read: Vec<B256> = counting.reads.take();
        read.sort();
        read.dedup();
        let mut fetched: Vec<B256> = levels.borrow().iter().flatten().copied().collect();
        fetched.sort();
        assert_eq!(fetched, read);
        assert_eq!(levels.borrow()[0], vec![root]);
    }

    #[test]
    fn a_wrong_node_is_refused_and_garbage_stops_quietly() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for i in 0usize..50 {
            trie.insert(&alloy_rlp::encode(i), &[3u8; 40]).unwrap();
        }
        let (root, _) = trie.commit();
        let err = prefetch(root, Paths::All, |h| Ok(vec![Bytes::from_static(b"nope"); h.len()])).unwrap_err();
        assert!(matches!(err, TrieError::MalformedNode { reason, .. } if reason == "hash mismatch"));
        let err = prefetch(root, Paths::All, |_| Ok(vec![])).unwrap_err();
        assert!(err.to_string().contains("prefetch asked for 1 nodes and got 0"), "{err}");
        // A root whose preimage is not a node: nothing below it to follow, no error (the lookup reports it).
        let junk = Bytes::from_static(b"junk");
        let visited = prefetch(keccak256(&junk), Paths::All, |_| Ok(vec![junk.clone()])).unwrap();
        assert_eq!(visited, 1);
    }
}
