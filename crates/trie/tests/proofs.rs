//! Proof generation and verification: inclusion and exclusion proofs over random tries, rejected
//! tampered proofs, and a cross-check against alloy-trie's verifier.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::Nibbles;
use keel_trie::{verify_proof, MemoryNodeStore, SecureTrie, Trie, TrieError, EMPTY_ROOT};
use proptest::{collection::vec, prelude::*, sample::select};
use std::collections::BTreeMap;

const ALPHABET: &[u8] = &[0x00, 0x01, 0x10, 0x11, 0xf0, 0xff];

fn entries() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    (1usize..=6).prop_flat_map(|len| {
        proptest::collection::btree_map(
            vec(select(ALPHABET), len),
            prop_oneof![vec(any::<u8>(), 1..=4), vec(any::<u8>(), 1..=64)],
            0..48,
        )
    })
}

fn probes() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(vec(select(ALPHABET), 0..=7), 0..16)
}

fn assert_invalid(result: Result<Option<Bytes>, TrieError>) {
    assert!(matches!(result, Err(TrieError::InvalidProof(_))), "{result:?}");
}

/// Checks the proof for `key` against `root` and `expected`, tampering included.
fn check_proof(root: B256, key: &[u8], proof: &[Bytes], expected: Option<&Vec<u8>>) {
    let got = verify_proof(root, key, proof).unwrap();
    assert_eq!(got.map(|b| b.to_vec()).as_ref(), expected);

    // alloy-trie agrees (it expects the root node to be hashed, i.e. at least 32 bytes).
    if key.len() <= 32 && proof.first().is_some_and(|n| n.len() >= 32) {
        alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), expected.cloned(), proof).unwrap();
    }

    // Flipping any bit of any item, dropping the last item, adding an item or using another root
    // are all rejected.
    for i in 0..proof.len() {
        for bit in [0, 7] {
            let mut tampered = proof.to_vec();
            let mut item = tampered[i].to_vec();
            let pos = (i * 13 + bit) % item.len();
            item[pos] ^= 1 << bit;
            tampered[i] = item.into();
            assert_invalid(verify_proof(root, key, &tampered));
        }
    }
    if !proof.is_empty() {
        assert_invalid(verify_proof(root, key, &proof[..proof.len() - 1]));
    }
    let mut extra = proof.to_vec();
    extra.push(Bytes::from_static(&[0xc2, 0x20, 0x01]));
    assert_invalid(verify_proof(root, key, &extra));
    assert_invalid(verify_proof(keccak256(root), key, proof));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prove_and_verify(entries in entries(), probes in probes()) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        trie.apply_batch(entries.iter().map(|(k, v)| (k, Some(v)))).unwrap();
        let (root, nodes) = trie.commit();
        let reopened = Trie::open(root, nodes.into_iter().collect::<MemoryNodeStore>());
        // A trie modified after the last root() hashes dirty nodes on the fly.
        let mut dirty = trie.clone();
        dirty.insert(b"\x77", b"dirty").unwrap();
        dirty.remove(b"\x77").unwrap();

        for key in entries.keys().chain(&probes) {
            let proof = trie.prove(key).unwrap();
            // In-memory and lazily loaded tries give the same proof.
            prop_assert_eq!(&proof, &reopened.prove(key).unwrap());
            prop_assert_eq!(&proof, &dirty.prove(key).unwrap());
            check_proof(root, key, &proof, entries.get(key));
        }
    }
}

#[test]
fn empty_trie_proof() {
    let trie = Trie::new(MemoryNodeStore::new());
    let proof = trie.prove(b"anything").unwrap();
    assert!(proof.is_empty());
    assert_eq!(verify_proof(EMPTY_ROOT, b"anything", &proof).unwrap(), None);
    assert_invalid(verify_proof(EMPTY_ROOT, b"anything", &[Bytes::from_static(&[0xc2, 0x20, 0x01])]));
    assert_invalid(verify_proof(B256::repeat_byte(1), b"anything", &[]));
}

#[test]
fn secure_trie_proofs() {
    let mut trie = SecureTrie::new(MemoryNodeStore::new());
    for i in 0u64..200 {
        trie.insert(&i.to_be_bytes(), &[i as u8 + 1; 33]).unwrap();
    }
    let root = trie.root();
    for i in 0u64..220 {
        let key = i.to_be_bytes();
        let proof = trie.prove(&key).unwrap();
        let expected = (i < 200).then(|| vec![i as u8 + 1; 33]);
        check_proof(root, keccak256(key).as_slice(), &proof, expected.as_ref());
    }
}

#[test]
fn garbage_proofs_do_not_panic() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000));
    runner
        .run(&(vec(vec(any::<u8>(), 0..80), 0..4), vec(any::<u8>(), 0..8)), |(items, key)| {
            let proof: Vec<Bytes> = items.into_iter().map(Bytes::from).collect();
            // Root = hash of the first item, so the first hop passes and the parser sees the garbage.
            let root = proof.first().map_or(EMPTY_ROOT, keccak256);
            let _ = verify_proof(root, &key, &proof);
            Ok(())
        })
        .unwrap();
}
