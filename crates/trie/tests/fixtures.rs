//! The ethereum/tests TrieTests, read in place from `/work/shared/fixtures/trie`.
//!
//! `trietestnextprev.json` (an iterator test) is skipped: this crate has no key iterator.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{hex, keccak256, Bytes, B256};
use keel_trie::{MemoryNodeStore, Trie};
use serde_json::Value;
use std::{collections::BTreeMap, path::PathBuf};

const FILES: &[&str] = &[
    "trietest.json",
    "trieanyorder.json",
    "trietest_secureTrie.json",
    "trieanyorder_secureTrie.json",
    "hex_encoded_securetrie_test.json",
];

fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/trie");
    assert!(
        dir.is_dir(),
        "trie fixtures not found at {} (expected the ethereum/tests TrieTests there)",
        dir.display()
    );
    dir
}

/// "0x…" is hex, anything else its raw ASCII bytes (hex regardless when `hex_encoded`).
fn parse_bytes(s: &str, hex_encoded: bool) -> Vec<u8> {
    match s.strip_prefix("0x") {
        Some(h) => hex::decode(h).unwrap(),
        None if hex_encoded => hex::decode(s).unwrap(),
        None => s.as_bytes().to_vec(),
    }
}

struct Case {
    name: String,
    secure: bool,
    /// Updates in order; `None` = delete.
    updates: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    root: B256,
}

fn load_cases() -> Vec<Case> {
    let dir = fixtures_dir();
    let mut cases = Vec::new();
    for file in FILES {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text).unwrap();
        let secure = file.contains("secure");
        for (name, test) in json.as_object().unwrap() {
            let hex_encoded = test.get("hexEncoded").and_then(Value::as_bool).unwrap_or(false);
            let value_of = |v: &Value| v.as_str().map(|s| parse_bytes(s, hex_encoded));
            let updates = match &test["in"] {
                Value::Array(pairs) => pairs
                    .iter()
                    .map(|pair| (parse_bytes(pair[0].as_str().unwrap(), hex_encoded), value_of(&pair[1])))
                    .collect(),
                Value::Object(map) => {
                    map.iter().map(|(k, v)| (parse_bytes(k, hex_encoded), value_of(v))).collect()
                }
                other => panic!("{file}/{name}: unexpected \"in\": {other}"),
            };
            let root = test["root"].as_str().unwrap().parse().unwrap();
            cases.push(Case { name: format!("{file}/{name}"), secure, updates, root });
        }
    }
    assert!(cases.len() >= 25, "expected at least 25 trie fixtures, found {}", cases.len());
    cases
}

impl Case {
    /// Keys as inserted into the (plain) trie.
    fn trie_key(&self, key: &[u8]) -> Vec<u8> {
        if self.secure {
            keccak256(key).to_vec()
        } else {
            key.to_vec()
        }
    }

    /// Final contents, keyed by trie key; empty values are deletions.
    fn model(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut model = BTreeMap::new();
        for (key, value) in &self.updates {
            match value.as_ref().filter(|v| !v.is_empty()) {
                Some(v) => model.insert(self.trie_key(key), v.clone()),
                None => model.remove(&self.trie_key(key)),
            };
        }
        model
    }
}

#[test]
fn fixtures_sequential() {
    for case in load_cases() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for (key, value) in &case.updates {
            let key = case.trie_key(key);
            match value {
                Some(v) => trie.insert(&key, v).unwrap(),
                None => trie.remove(&key).unwrap(),
            }
        }
        assert_eq!(trie.root(), case.root, "{}", case.name);
    }
}

#[test]
fn fixtures_secure_trie_wrapper() {
    for case in load_cases().into_iter().filter(|c| c.secure) {
        let mut trie = keel_trie::SecureTrie::new(MemoryNodeStore::new());
        for (key, value) in &case.updates {
            match value {
                Some(v) => trie.insert(key, v).unwrap(),
                None => trie.remove(key).unwrap(),
            }
        }
        assert_eq!(trie.root(), case.root, "{}", case.name);
        let (root, nodes) = trie.commit();
        let reopened = keel_trie::SecureTrie::open(root, MemoryNodeStore::from_iter(nodes));
        for (key, _) in &case.updates {
            let expected = case.model().get(&case.trie_key(key)).cloned();
            assert_eq!(reopened.get(key).unwrap().map(|b| b.to_vec()), expected, "{}", case.name);
        }
        let mut batch = keel_trie::SecureTrie::new(MemoryNodeStore::new());
        batch.apply_batch(case.updates.iter().map(|(k, v)| (k, v.as_ref()))).unwrap();
        assert_eq!(batch.root(), case.root, "{} (batch)", case.name);
    }
}

#[test]
fn fixtures_batch() {
    for case in load_cases() {
        let mut trie = Trie::new(MemoryNodeStore::new());
        trie.apply_batch(case.updates.iter().map(|(k, v)| (case.trie_key(k), v.as_ref()))).unwrap();
        assert_eq!(trie.root(), case.root, "{} (batch)", case.name);
    }
}

/// Commit after every update into a growing store, reopening the trie each time, so updates go
/// through lazily loaded nodes.
#[test]
fn fixtures_commit_reopen_each_step() {
    for case in load_cases() {
        let mut store = MemoryNodeStore::new();
        let mut root = keel_trie::EMPTY_ROOT;
        for (key, value) in &case.updates {
            let mut trie = Trie::open(root, store.clone());
            trie.insert(&case.trie_key(key), value.as_deref().unwrap_or_default()).unwrap();
            let (new_root, nodes) = trie.commit();
            store.insert_batch(nodes);
            root = new_root;
        }
        assert_eq!(root, case.root, "{}", case.name);
    }
}

#[test]
fn fixtures_commit_reopen_get() {
    for case in load_cases() {
        let model = case.model();
        let mut trie = Trie::new(MemoryNodeStore::new());
        trie.apply_batch(case.updates.iter().map(|(k, v)| (case.trie_key(k), v.as_ref()))).unwrap();
        let (root, nodes) = trie.commit();
        assert_eq!(root, case.root, "{}", case.name);
        // A second commit has nothing new.
        assert_eq!(trie.commit(), (root, vec![]), "{}", case.name);

        let store: MemoryNodeStore = nodes.into_iter().collect();
        let mut reopened = Trie::open(root, store);
        for (key, _) in &case.updates {
            let key = case.trie_key(key);
            let got = reopened.get(&key).unwrap();
            assert_eq!(got, model.get(&key).map(|v| Bytes::copy_from_slice(v)), "{}", case.name);
            // The unmodified in-memory trie agrees.
            assert_eq!(trie.get(&key).unwrap(), got, "{}", case.name);
        }
        assert_eq!(reopened.root(), case.root, "{}", case.name);
    }
}
