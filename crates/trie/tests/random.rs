//! Property tests: random update sequences against reference roots (alloy-trie's `HashBuilder` and a
//! naive builder), batch vs sequential updates, and commit → reopen → get.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::Bytes;
use keel_trie::{MemoryNodeStore, Trie, EMPTY_ROOT};
use proptest::{collection::vec, option, prelude::*, sample::select};
use std::collections::BTreeMap;

type Op = (Vec<u8>, Option<Vec<u8>>);

/// Bytes whose nibbles collide a lot, so keys share prefixes.
const ALPHABET: &[u8] = &[0x00, 0x01, 0x10, 0x11, 0xf0, 0xff];

fn value() -> impl Strategy<Value = Vec<u8>> {
    // 1..=64 bytes: short values make leaves (and whole subtries) shorter than 32 bytes, so inlining
    // is exercised as well as hashing.
    prop_oneof![vec(any::<u8>(), 1..=4), vec(any::<u8>(), 1..=64)]
}

/// Updates (`None` = delete) on fixed-length keys, as `HashBuilder` needs.
fn fixed_len_ops() -> impl Strategy<Value = Vec<Op>> {
    (1usize..=5).prop_flat_map(|len| vec((vec(select(ALPHABET), len), option::weighted(0.7, value())), 1..64))
}

/// Updates on keys of 0..=4 bytes, so some keys are prefixes of others (branch values, empty key).
fn var_len_ops() -> impl Strategy<Value = Vec<Op>> {
    vec((vec(select(ALPHABET), 0..=4), option::weighted(0.7, value())), 1..64)
}

fn apply_model(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, (key, value): &Op) {
    match value {
        Some(v) => model.insert(key.clone(), v.clone()),
        None => model.remove(key),
    };
}

fn apply_trie(trie: &mut Trie<MemoryNodeStore>, (key, value): &Op) {
    match value {
        Some(v) => trie.insert(key, v).unwrap(),
        None => trie.remove(key).unwrap(),
    }
}

/// Checks sequential updates (root after every step), batch updates, and commit → reopen → more
/// updates → commit → reopen → get, all against `reference`.
fn check(ops: &[Op], reference: fn(&BTreeMap<Vec<u8>, Vec<u8>>) -> alloy_primitives::B256) {
    let mut model = BTreeMap::new();
    let mut trie = Trie::new(MemoryNodeStore::new());
    for op in ops {
        apply_model(&mut model, op);
        apply_trie(&mut trie, op);
        assert_eq!(trie.root(), reference(&model));
    }
    let expected_root = reference(&model);
    for (key, value) in &model {
        assert_eq!(trie.get(key).unwrap().map(|b| b.to_vec()).as_ref(), Some(value));
    }

    // One batch gives the same root.
    let mut batch = Trie::new(MemoryNodeStore::new());
    batch.apply_batch(ops.iter().map(|(k, v)| (k, v.as_ref()))).unwrap();
    assert_eq!(batch.root(), expected_root);

    // Half, commit, reopen (lazy loading), the other half as a batch, commit, reopen, get.
    let (first, second) = ops.split_at(ops.len() / 2);
    let mut trie = Trie::new(MemoryNodeStore::new());
    for op in first {
        apply_trie(&mut trie, op);
    }
    let (root, nodes) = trie.commit();
    let mut store: MemoryNodeStore = nodes.into_iter().collect();
    let mut reopened = Trie::open(root, store.clone());
    reopened.apply_batch(second.iter().map(|(k, v)| (k, v.as_ref()))).unwrap();
    let (root, nodes) = reopened.commit();
    assert_eq!(root, expected_root);
    store.insert_batch(nodes);
    let mut again = Trie::open(root, store.clone());
    for (key, _) in ops {
        assert_eq!(again.get(key).unwrap().map(|b| b.to_vec()), model.get(key).cloned());
    }
    assert_eq!(again.root(), expected_root);

    // Same second half applied one by one on a reopened trie.
    let mut seq = Trie::open(trie.root(), store);
    for op in second {
        apply_trie(&mut seq, op);
    }
    assert_eq!(seq.root(), expected_root);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn matches_hash_builder(ops in fixed_len_ops()) {
        check(&ops, common::hash_builder_root);
    }

    #[test]
    fn matches_naive_builder_with_prefix_keys(ops in var_len_ops()) {
        check(&ops, common::naive_root);
    }
}

#[test]
fn naive_reference_agrees_with_hash_builder() {
    let mut model = BTreeMap::new();
    assert_eq!(common::naive_root(&model), EMPTY_ROOT);
    for i in 0u32..300 {
        model.insert(
            alloy_primitives::keccak256(i.to_be_bytes()).to_vec(),
            vec![i as u8 + 1; i as usize % 50 + 1],
        );
        assert_eq!(common::naive_root(&model), common::hash_builder_root(&model));
    }
}

#[test]
fn empty_and_single_key() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    assert_eq!(trie.root(), EMPTY_ROOT);
    assert_eq!(trie.commit(), (EMPTY_ROOT, vec![]));
    trie.insert(b"", b"x").unwrap();
    assert_eq!(trie.get(b"").unwrap(), Some(Bytes::from_static(b"x")));
    // The short root node is committed under its hash.
    let (root, nodes) = trie.commit();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].0, root);
    let reopened = Trie::open(root, nodes.into_iter().collect::<MemoryNodeStore>());
    assert_eq!(reopened.get(b"").unwrap(), Some(Bytes::from_static(b"x")));
    trie.remove(b"").unwrap();
    assert_eq!(trie.root(), EMPTY_ROOT);
    // Inserting an empty value deletes.
    trie.insert(b"a", b"1").unwrap();
    trie.insert(b"a", b"").unwrap();
    assert_eq!(trie.root(), EMPTY_ROOT);
    assert!(trie.is_empty());
}

/// Committing after a small change emits only the nodes on the changed path.
#[test]
fn commit_emits_only_changed_path() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    let keys: Vec<_> = (0u32..1000).map(|i| alloy_primitives::keccak256(i.to_be_bytes())).collect();
    trie.apply_batch(keys.iter().map(|k| (k, Some([0xaa; 40])))).unwrap();
    let (root, nodes) = trie.commit();
    let store: MemoryNodeStore = nodes.into_iter().collect();
    let all = store.len();
    let mut reopened = Trie::open(root, store);
    reopened.insert(keys[7].as_slice(), &[0xbb; 40]).unwrap();
    let (_, nodes) = reopened.commit();
    // Root branch, one or two more branches, the leaf: a handful, not the whole trie.
    assert!(nodes.len() <= 5, "{} of {all}", nodes.len());
    assert!(nodes.len() >= 2);
}

/// A store that counts reads per node.
struct CountingStore {
    inner: MemoryNodeStore,
    reads: std::cell::RefCell<std::collections::HashMap<alloy_primitives::B256, usize>>,
}

impl keel_trie::NodeStore for CountingStore {
    fn node(&self, hash: &alloy_primitives::B256) -> Result<Option<Bytes>, keel_trie::TrieError> {
        *self.reads.borrow_mut().entry(*hash).or_default() += 1;
        self.inner.node(hash)
    }
}

/// Updates load each node they touch from the store once, however many keys lie below it.
#[test]
fn nodes_are_loaded_once() {
    let keys: Vec<_> = (0u32..2000).map(|i| alloy_primitives::keccak256(i.to_be_bytes())).collect();
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.apply_batch(keys.iter().map(|k| (k, Some([0xaa; 40])))).unwrap();
    let (root, nodes) = trie.commit();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = keys.iter().map(|k| (k.to_vec(), vec![0xaa; 40])).collect();

    let updates: Vec<_> = keys
        .iter()
        .step_by(3)
        .enumerate()
        .map(|(i, k)| (k.to_vec(), (i % 2 == 0).then(|| vec![i as u8 + 1; 40])))
        .collect();
    for (k, v) in &updates {
        apply_model(&mut model, &(k.clone(), v.clone()));
    }
    let expected = common::hash_builder_root(&model);

    let batch_store = CountingStore { inner: nodes.iter().cloned().collect(), reads: Default::default() };
    let mut batch = Trie::open(root, &batch_store);
    batch.apply_batch(updates.iter().map(|(k, v)| (k, v.as_ref()))).unwrap();
    assert_eq!(batch.root(), expected);
    assert!(batch_store.reads.borrow().values().all(|&n| n == 1));

    let seq_store = CountingStore { inner: nodes.into_iter().collect(), reads: Default::default() };
    let mut seq = Trie::open(root, &seq_store);
    for (k, v) in &updates {
        seq.insert(k, v.as_deref().unwrap_or_default()).unwrap();
    }
    assert_eq!(seq.root(), expected);
    assert!(seq_store.reads.borrow().values().all(|&n| n == 1));
}

/// A store that records the hashes read through it.
struct Reads<'s> {
    nodes: &'s MemoryNodeStore,
    read: std::cell::RefCell<std::collections::BTreeSet<alloy_primitives::B256>>,
}

impl keel_trie::NodeStore for Reads<'_> {
    fn node(&self, hash: &alloy_primitives::B256) -> Result<Option<Bytes>, keel_trie::TrieError> {
        self.read.borrow_mut().insert(*hash);
        self.nodes.node(hash)
    }
}

proptest! {
    /// `prefetch` fetches exactly the stored nodes that lookups of the same keys read (variable-length keys:
    /// inlined nodes, branch values, absent keys), and for `Paths::All` exactly the nodes a walk of every key
    /// reads; each at most once.
    #[test]
    fn prefetch_fetches_what_lookups_read(
        ops in var_len_ops(),
        probes in vec(vec(select(ALPHABET), 0..=4), 0..12),
    ) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        let mut model = BTreeMap::new();
        for op in &ops {
            apply_model(&mut model, op);
            apply_trie(&mut trie, op);
        }
        let (root, nodes) = trie.commit();
        let store: MemoryNodeStore = nodes.into_iter().collect();
        let fetch_into = |seen: &mut Vec<alloy_primitives::B256>, hashes: &[alloy_primitives::B256]| {
            seen.extend_from_slice(hashes);
            hashes.iter().map(|h| keel_trie::NodeStore::node(&store, h).map(|n| n.unwrap())).collect()
        };
        // Keys: the probes, present or not.
        let keys: Vec<&[u8]> = probes.iter().map(Vec::as_slice).collect();
        let mut fetched = Vec::new();
        keel_trie::prefetch(root, keel_trie::Paths::Keys(&keys), |h| fetch_into(&mut fetched, h)).unwrap();
        let reads = Reads { nodes: &store, read: Default::default() };
        let reopened = Trie::open(root, &reads);
        for probe in &probes {
            prop_assert_eq!(reopened.get(probe).unwrap().map(|v| v.to_vec()), model.get(probe).cloned());
        }
        let mut sorted = fetched.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), fetched.len(), "a node fetched twice");
        prop_assert_eq!(sorted, reads.read.take().into_iter().collect::<Vec<_>>());
        // Everything: the nodes lookups of every key read.
        let mut fetched = Vec::new();
        keel_trie::prefetch(root, keel_trie::Paths::All, |h| fetch_into(&mut fetched, h)).unwrap();
        let reads = Reads { nodes: &store, read: Default::default() };
        let reopened = Trie::open(root, &reads);
        for key in model.keys() {
            reopened.get(key).unwrap();
        }
        fetched.sort();
        prop_assert_eq!(fetched, reads.read.take().into_iter().collect::<Vec<_>>());
    }
}
