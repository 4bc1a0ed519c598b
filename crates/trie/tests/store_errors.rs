//! A store that fails, lacks nodes or returns garbage makes operations return errors, never panic.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{keccak256, Bytes, B256};
use keel_trie::{MemoryNodeStore, NodeStore, Trie, TrieError};
use proptest::{collection::vec, prelude::*};

#[derive(Clone, Copy, Debug)]
enum Fault {
    Error,
    Missing,
    Garbage,
}

/// A store that misbehaves for one node.
struct FaultyStore {
    inner: MemoryNodeStore,
    bad: B256,
    fault: Fault,
}

impl NodeStore for FaultyStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        if *hash != self.bad {
            return self.inner.node(hash);
        }
        match self.fault {
            Fault::Error => Err(TrieError::Store("disk on fire".into())),
            Fault::Missing => Ok(None),
            Fault::Garbage => Ok(Some(Bytes::from_static(b"\xc2\x20\x01 definitely not that node"))),
        }
    }
}

fn expected_error(fault: Fault, bad: B256, err: &TrieError) -> bool {
    match (fault, err) {
        (Fault::Error, TrieError::Store(_)) => true,
        (Fault::Missing, TrieError::NodeNotFound(h)) => *h == bad,
        (Fault::Garbage, TrieError::MalformedNode { hash, reason }) => {
            *hash == bad && reason == "hash mismatch"
        }
        _ => false,
    }
}

#[test]
fn faulty_store() {
    let keys: Vec<B256> = (0u32..300).map(|i| keccak256(i.to_be_bytes())).collect();
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.apply_batch(keys.iter().map(|k| (k, Some(k.as_slice())))).unwrap();
    let (root, nodes) = trie.commit();
    let store: MemoryNodeStore = nodes.into_iter().collect();

    let mut errors = 0;
    for bad in store.iter().map(|(h, _)| *h).step_by(7).chain([root]) {
        for fault in [Fault::Error, Fault::Missing, Fault::Garbage] {
            let faulty = FaultyStore { inner: store.clone(), bad, fault };
            let check = |result: Result<(), TrieError>| match result {
                Ok(()) => {}
                Err(e) => assert!(expected_error(fault, bad, &e), "{fault:?}: {e}"),
            };
            let mut trie = Trie::open(root, &faulty);
            for (i, key) in keys.iter().enumerate().step_by(5) {
                match trie.get(key.as_slice()) {
                    Ok(value) => assert_eq!(value.as_ref().map(|v| v.as_ref()), Some(key.as_slice())),
                    Err(e) => {
                        errors += 1;
                        assert!(expected_error(fault, bad, &e), "{fault:?}: {e}");
                    }
                }
                check(trie.prove(key.as_slice()).map(drop));
                let update = if i % 2 == 0 {
                    trie.remove(key.as_slice())
                } else {
                    trie.insert(&[key.as_slice(), b"x"].concat(), b"value")
                };
                if update.is_err() {
                    // A failed update may leave the trie partially updated (documented): discard it.
                    trie = Trie::open(root, &faulty);
                }
                check(update);
            }
            // A fresh trie per batch: a failed update may leave the trie partially updated.
            let mut trie = Trie::open(root, &faulty);
            check(trie.apply_batch(keys.iter().step_by(3).map(|k| (k, None::<&[u8]>))));
        }
    }
    assert!(errors > 0);
}

/// Random bytes stored under their real hash: the trie reports a malformed node, never panics.
#[test]
fn garbage_nodes() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(3000));
    let node = prop_oneof![
        vec(any::<u8>(), 0..100),
        // Well-formed RLP lists of random strings/hashes, so parsing gets further.
        vec(prop_oneof![vec(any::<u8>(), 0..3), vec(any::<u8>(), 32..=32), vec(any::<u8>(), 0..40)], 0..18)
            .prop_map(|items| {
                let items: Vec<Bytes> = items.into_iter().map(Bytes::from).collect();
                alloy_rlp::encode(&items)
            }),
    ];
    runner
        .run(&(node, vec(any::<u8>(), 0..6), any::<bool>()), |(rlp, key, insert)| {
            let rlp = Bytes::from(rlp);
            let mut store = MemoryNodeStore::new();
            let root = store.insert_rlp(rlp);
            let mut trie = Trie::open(root, store);
            let ok_or_malformed = |e: &TrieError| {
                matches!(e, TrieError::MalformedNode { hash, .. } if *hash == root)
                    || matches!(e, TrieError::NodeNotFound(_))
            };
            if let Err(e) = trie.get(&key) {
                prop_assert!(ok_or_malformed(&e), "{e}");
            }
            if let Err(e) = trie.prove(&key) {
                prop_assert!(ok_or_malformed(&e), "{e}");
            }
            let result = if insert { trie.insert(&key, b"v") } else { trie.remove(&key) };
            if let Err(e) = result {
                prop_assert!(ok_or_malformed(&e), "{e}");
            } else {
                let _ = trie.root();
                let _ = trie.commit();
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn missing_root() {
    let root = B256::repeat_byte(0x42);
    let mut trie = Trie::open(root, MemoryNodeStore::new());
    // Opening does not read; the root hash is known without loading.
    assert_eq!(trie.root(), root);
    assert!(matches!(trie.get(b"k"), Err(TrieError::NodeNotFound(h)) if h == root));
    assert!(matches!(trie.insert(b"k", b"v"), Err(TrieError::NodeNotFound(h)) if h == root));
}
