//! Encryption at rest (`keel_store::crypt`): an encrypted store behaves exactly like a plain one, nothing it
//! writes is readable without the key, tampering is an integrity error, the key is checked on open, and a rekey
//! survives interruption.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, U256};
use common::{assert_chain_links, init_dev, run_chain, scan, SharedKv};
use keel_store::{
    crypt::wrap, DbKey, Kv, MemoryKv, OpenOptions, Store, StoreError, Table, WriteBatch, WriteOp,
};
use proptest::{collection::vec, prelude::*, sample::select};
use std::path::Path;

fn key(byte: u8) -> DbKey {
    DbKey::from_bytes([byte; 32])
}

fn encrypted_store(inner: &SharedKv, key: &DbKey) -> Store {
    Store::with_kv(wrap(Box::new(inner.clone()), Some(key), Path::new("test")).unwrap()).unwrap()
}

/// Every raw entry of the inner layer.
fn raw_entries(inner: &SharedKv) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
    let snapshot = inner.snapshot().unwrap();
    let mut out = Vec::new();
    for table in Table::ALL {
        snapshot
            .scan_prefix(table, &[], &mut |k, v| {
                out.push((table, k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
    }
    out
}

#[test]
fn encrypted_store_matches_plain_store_and_reveals_nothing() {
    let plain = Store::memory();
    let (plain_head, plain_root) = run_chain(&plain, 7, 30);

    let inner = SharedKv::default();
    let store = encrypted_store(&inner, &key(1));
    let (head, root) = run_chain(&store, 7, 30);
    assert_eq!((head, root), (plain_head, plain_root));
    assert_eq!(assert_chain_links(&store), 30);

    // Same reads, including ordered storage scans, through both.
    let (a, b) = (plain.snapshot().unwrap(), store.snapshot().unwrap());
    for i in 1..=64u64 {
        let address = Address::left_padding_from(&i.to_be_bytes());
        assert_eq!(a.account(address).unwrap(), b.account(address).unwrap());
        assert_eq!(a.storage_slots(address).unwrap(), b.storage_slots(address).unwrap());
    }

    // The inner layer holds no plain key or value: no address, no block hash, no header.
    let head_header = alloy_rlp::encode(b.head().unwrap().unwrap().inner());
    let entries = raw_entries(&inner);
    assert!(entries.len() > 100);
    for (table, k, v) in &entries {
        if *table == Table::Meta && k.as_slice() == b"encryption" {
            continue;
        }
        assert!(k.len() == 33 || (*table == Table::Storage && k.len() == 41), "{table:?} key {k:?}");
        for needle in
            [head.as_slice(), &head_header[..32], &Address::left_padding_from(&5u64.to_be_bytes())[..]]
        {
            assert!(!k.windows(needle.len()).any(|w| w == needle), "{table:?} key holds plain bytes");
            assert!(!v.windows(needle.len()).any(|w| w == needle), "{table:?} value holds plain bytes");
        }
    }

    // Reopening the same inner layer with the same key gives the same chain.
    let reopened = encrypted_store(&inner, &key(1));
    assert_eq!(reopened.snapshot().unwrap().head().unwrap().unwrap().hash(), head);
}

#[test]
fn open_refuses_missing_wrong_and_unexpected_keys() {
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("enc");
    let plain = dir.path().join("plain");
    let open =
        |path: &Path, key: Option<DbKey>| Store::open_opts(path, &OpenOptions { key, ..Default::default() });
    init_dev(&open(&encrypted, Some(key(1))).unwrap());
    init_dev(&open(&plain, None).unwrap());

    let err = open(&encrypted, None).unwrap_err();
    assert!(matches!(err, StoreError::KeyRequired { .. }), "{err}");
    assert!(
        err.to_string().contains("is encrypted") && err.to_string().contains(&key(1).id().to_string()),
        "{err}"
    );
    let err = open(&encrypted, Some(key(2))).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains(&key(2).id().to_string()), "{err}");
    let err = open(&plain, Some(key(1))).unwrap_err();
    assert!(matches!(err, StoreError::NotEncrypted { .. }), "{err}");
    // The right key still works after all that.
    assert!(open(&encrypted, Some(key(1))).unwrap().snapshot().unwrap().head().unwrap().is_some());
    // A datadir that already holds something cannot be `db init`ed.
    assert!(Store::init_encrypted(&plain, &key(3)).is_err());
    assert!(Store::init_encrypted(&encrypted, &key(3)).is_err());
}

#[test]
fn tampering_is_an_integrity_error() {
    let inner = SharedKv::default();
    let store = encrypted_store(&inner, &key(1));
    let (head, _) = run_chain(&store, 11, 5);
    let head_number = store.snapshot().unwrap().head().unwrap().unwrap().number;
    assert_eq!(head_number, 5);

    // Flip one bit in every sealed value of a table in turn: each read of the table's data fails.
    let entries = raw_entries(&inner);
    let find = |table: Table| entries.iter().filter(move |(t, _, _)| *t == table).cloned();
    for (table, k, mut v) in find(Table::Headers) {
        let middle = v.len() / 2;
        v[middle] ^= 0x01;
        let mut batch = WriteBatch::default();
        batch.ops.push(WriteOp::Put { table, key: k, value: v });
        inner.write(batch).unwrap();
    }
    let err = store.snapshot().unwrap().head().unwrap_err();
    assert!(matches!(err, StoreError::Integrity { table: "headers", .. }), "{err}");
    assert!(err.to_string().contains("integrity check failed"), "{err}");

    // Swap two accounts' sealed values: each one is bound to its own key.
    let accounts: Vec<_> = find(Table::Accounts).take(2).collect();
    let mut batch = WriteBatch::default();
    batch.ops.push(WriteOp::Put {
        table: Table::Accounts,
        key: accounts[0].1.clone(),
        value: accounts[1].2.clone(),
    });
    inner.write(batch).unwrap();
    // Every account read either fails its integrity check or returns exactly what a plain store holds.
    let plain = Store::memory();
    run_chain(&plain, 11, 5);
    let (snapshot, model) = (store.snapshot().unwrap(), plain.snapshot().unwrap());
    let dev = keel_primitives::DevGenesis::default().dev_accounts().unwrap();
    let addresses = (1..=64u64)
        .map(|i| Address::left_padding_from(&i.to_be_bytes()))
        .chain(dev.iter().map(|a| a.address));
    for address in addresses {
        match snapshot.account(address) {
            Err(e) => assert!(matches!(e, StoreError::Integrity { table: "accounts", .. }), "{e}"),
            Ok(found) => assert_eq!(found, model.account(address).unwrap()),
        }
    }
    let scanned = snapshot.kv().scan_prefix(Table::Accounts, &[], &mut |_, _| true);
    assert!(matches!(scanned, Err(StoreError::Integrity { table: "accounts", .. })), "{scanned:?}");

    // A value moved to another table fails too.
    let code: Vec<_> = find(Table::TrieNodes).take(1).collect();
    let mut batch = WriteBatch::default();
    batch.ops.push(WriteOp::Put { table: Table::Code, key: code[0].1.clone(), value: code[0].2.clone() });
    inner.write(batch).unwrap();
    let scanned = store.snapshot().unwrap().kv().scan_prefix(Table::Code, &[], &mut |_, _| true);
    assert!(matches!(scanned, Err(StoreError::Integrity { table: "code", .. })), "{scanned:?}");

    // The marker cannot be edited without the key (here: the generation byte).
    let marker = inner.snapshot().unwrap().get(Table::Meta, b"encryption").unwrap().unwrap();
    let mut edited = marker.clone();
    edited[13] ^= 1;
    let mut batch = WriteBatch::default();
    batch.put(Table::Meta, b"encryption".as_slice(), edited);
    inner.write(batch).unwrap();
    let err = wrap(Box::new(inner.clone()), Some(&key(1)), Path::new("test")).unwrap_err();
    assert!(err.to_string().contains("marker fails authentication"), "{err}");
    let _ = head;
}

#[test]
fn a_lost_meta_entry_does_not_start_a_new_chain() {
    let store = Store::memory();
    init_dev(&store);
    let mut batch = WriteBatch::default();
    batch.delete(Table::Meta, b"spec".as_slice());
    store.kv().write(batch).unwrap();
    let err = common::try_init_dev(&store).unwrap_err();
    assert!(matches!(err, StoreError::Missing { table: "meta", .. }), "{err}");
}

#[test]
fn interrupted_rekey_is_refused_then_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        |key: DbKey| Store::open_opts(dir.path(), &OpenOptions { key: Some(key), ..Default::default() });
    let (head, root) = run_chain(&open(key(1)).unwrap(), 3, 20);

    // Interrupt after three batches of 10 entries.
    let mut batches = 0;
    let err = Store::rekey(dir.path(), &key(1), &key(2), 10, &mut |_| {
        batches += 1;
        batches < 3
    })
    .unwrap_err();
    assert!(matches!(err, StoreError::RekeyInterrupted { .. }), "{err}");
    for k in [key(1), key(2)] {
        let err = open(k).unwrap_err();
        assert!(matches!(err, StoreError::RekeyInterrupted { .. }), "{err}");
        assert!(err.to_string().contains("run `keel db rekey` again"), "{err}");
    }
    // Resuming with another new key is refused; with the same one it finishes.
    assert!(Store::rekey(dir.path(), &key(1), &key(3), 10, &mut |_| true).is_err());
    let mut calls = 0;
    let moved = Store::rekey(dir.path(), &key(1), &key(2), 10, &mut |_| {
        calls += 1;
        true
    })
    .unwrap();
    assert!(moved > 100 && calls > 10, "{moved} {calls}");
    // Running it again is a no-op.
    assert_eq!(Store::rekey(dir.path(), &key(1), &key(2), 10, &mut |_| true).unwrap(), 0);

    assert!(matches!(open(key(1)).unwrap_err(), StoreError::WrongKey { .. }));
    let store = open(key(2)).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.head().unwrap().unwrap().hash(), head);
    snapshot.check_state(root).unwrap();
    assert_eq!(assert_chain_links(&store), 20);
}

#[derive(Debug, Clone)]
enum Op {
    Put(Table, Vec<u8>, Vec<u8>),
    Delete(Table, Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let table = select(vec![Table::Storage, Table::Accounts, Table::Meta]);
    // Storage-shaped keys over a few addresses and slots, and short keys, so prefixes and collisions happen.
    let key = prop_oneof![
        (0u8..3, 0u8..4).prop_map(|(a, s)| {
            let mut k = vec![a; 20];
            k.extend_from_slice(&[s; 32]);
            k
        }),
        vec(0u8..3, 0..4),
    ];
    prop_oneof![
        (table.clone(), key.clone(), vec(any::<u8>(), 0..40)).prop_map(|(t, k, v)| Op::Put(t, k, v)),
        (table, key).prop_map(|(t, k)| Op::Delete(t, k)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Gets and ordered prefix scans through the cipher equal those of a plain store, for any writes.
    #[test]
    fn encrypted_kv_behaves_like_a_plain_kv(batches in vec(vec(op(), 1..8), 1..12)) {
        let model = MemoryKv::new();
        let encrypted = wrap(Box::new(SharedKv::default()), Some(&key(9)), Path::new("test")).unwrap();
        for ops in batches {
            let mut batch = WriteBatch::default();
            for op in ops {
                match op {
                    Op::Put(t, k, v) => batch.put(t, k, v),
                    Op::Delete(t, k) => batch.delete(t, k),
                }
            }
            model.write(batch.clone()).unwrap();
            encrypted.write(batch).unwrap();
        }
        let (m, e) = (model.snapshot().unwrap(), encrypted.snapshot().unwrap());
        for table in [Table::Storage, Table::Accounts, Table::Meta] {
            let mut prefixes: Vec<Vec<u8>> = vec![vec![], vec![0], vec![1, 1], vec![0; 20], vec![1; 21], vec![2; 52]];
            prefixes.extend(scan(&*m, table, &[]).into_iter().map(|(k, _)| k));
            for prefix in &prefixes {
                prop_assert_eq!(scan(&*m, table, prefix), scan(&*e, table, prefix));
                prop_assert_eq!(m.get(table, prefix).unwrap(), e.get(table, prefix).unwrap());
            }
        }
        let _ = U256::ZERO;
    }
}
