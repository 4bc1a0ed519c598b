//! Store behaviour: commits, reopen, flat state against the trie, and clear errors on bad data.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_primitives::{Address, B256, U256};
use common::{assert_chain_links, commit_child, init_dev, random_changes, run_chain, Rng};
use keel_store::{InitOutcome, MemoryKv, Store, StoreError, Table, WriteBatch, DB_FILE};

#[test]
fn memory_and_redb_stores_agree_and_reopen_yields_same_head() {
    let memory = Store::memory();
    let (mem_head, mem_root) = run_chain(&memory, 0x5eed, 40);

    let dir = tempfile::tempdir().unwrap();
    let (head, root) = {
        let store = Store::open(dir.path()).unwrap();
        run_chain(&store, 0x5eed, 40)
    };
    assert_eq!((head, root), (mem_head, mem_root));

    let reopened = Store::open(dir.path()).unwrap();
    let snapshot = reopened.snapshot().unwrap();
    let head_header = snapshot.head().unwrap().unwrap();
    assert_eq!(head_header.hash(), head);
    assert_eq!(head_header.state_root, root);
    assert_eq!(head_header.number, 40);
    let check = snapshot.check_state(root).unwrap();
    assert!(check.accounts > 10 && check.storage_slots > 10, "{check:?}");
    assert_eq!(assert_chain_links(&reopened), 40);

    // Re-initialising with the same chain keeps the head.
    match reopened
        .init(keel_primitives::DevGenesis::default().chain_spec().unwrap().spec_hash(), dummy_commit())
    {
        Ok(InitOutcome::Existing { head_hash, head_number }) => {
            assert_eq!((head_hash, head_number), (head, 40))
        }
        other => panic!("{other:?}"),
    }
}

fn dummy_commit() -> keel_store::BlockCommit<'static> {
    static HEADER: std::sync::LazyLock<keel_primitives::Header> = std::sync::LazyLock::new(Default::default);
    static BODY: std::sync::LazyLock<keel_primitives::BlockBody<keel_primitives::TxEnvelope>> =
        std::sync::LazyLock::new(|| keel_primitives::BlockBody {
            transactions: vec![],
            ommers: vec![],
            withdrawals: None,
        });
    static CHANGES: std::sync::LazyLock<keel_primitives::StateChanges> =
        std::sync::LazyLock::new(Default::default);
    keel_store::BlockCommit {
        header: &HEADER,
        hash: B256::ZERO,
        body: &BODY,
        senders: &[],
        receipts: &[],
        changes: &CHANGES,
        trie_nodes: &[],
    }
}

#[test]
fn other_chain_in_datadir_is_refused() {
    let store = Store::memory();
    init_dev(&store);
    let err = store.init(B256::repeat_byte(9), dummy_commit()).unwrap_err();
    assert!(matches!(err, StoreError::SpecMismatch { .. }), "{err}");
    assert!(err.to_string().contains("--datadir"), "{err}");
}

#[test]
fn block_that_does_not_extend_head_is_refused() {
    let store = Store::memory();
    let (genesis, genesis_hash) = init_dev(&store);
    let (_, first) = commit_child(&store, &genesis, genesis_hash, Default::default());
    let mut header = genesis.clone();
    header.number = 1;
    header.parent_hash = B256::repeat_byte(1);
    let mut commit = dummy_commit();
    commit.header = &header;
    let err = store.commit_block(commit).unwrap_err();
    match err {
        StoreError::NotChild { head, parent, .. } => {
            assert_eq!(head, first);
            assert_eq!(parent, B256::repeat_byte(1));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn wiped_and_deleted_accounts_leave_no_flat_storage() {
    let store = Store::memory();
    let (genesis, genesis_hash) = init_dev(&store);
    let address = Address::repeat_byte(0xaa);
    let account = keel_primitives::StateAccount { nonce: 1, ..Default::default() };
    let change = |account, wiped, storage| keel_primitives::AccountChange {
        address,
        hashed_address: alloy_primitives::keccak256(address),
        account,
        wiped,
        storage,
    };
    let slots: Vec<(U256, U256)> = (1u64..=5).map(|i| (U256::from(i), U256::from(i * 7))).collect();
    let changes = keel_primitives::StateChanges {
        accounts: vec![change(Some(account), false, slots)],
        new_code: vec![],
    };
    let (b1, h1) = commit_child(&store, &genesis, genesis_hash, changes);
    assert_eq!(store.snapshot().unwrap().storage_slots(address).unwrap().len(), 5);

    // Re-created in the next block: old slots gone, one new slot.
    let recreated = keel_primitives::StateAccount { nonce: 1, ..Default::default() };
    let changes = keel_primitives::StateChanges {
        accounts: vec![change(Some(recreated), true, vec![(U256::from(9), U256::from(1))])],
        new_code: vec![],
    };
    let (b2, h2) = commit_child(&store, &b1, h1, changes);
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.storage_slots(address).unwrap(), vec![(U256::from(9), U256::from(1))]);
    assert_eq!(snapshot.storage(address, U256::from(1)).unwrap(), U256::ZERO);
    snapshot.check_state(b2.state_root).unwrap();

    // Deleted: account and slots gone.
    let changes =
        keel_primitives::StateChanges { accounts: vec![change(None, false, vec![])], new_code: vec![] };
    let (b3, _) = commit_child(&store, &b2, h2, changes);
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.account(address).unwrap(), None);
    assert!(snapshot.storage_slots(address).unwrap().is_empty());
    snapshot.check_state(b3.state_root).unwrap();
}

#[test]
fn corrupt_values_are_errors_naming_table_and_key() {
    let kv = MemoryKv::new();
    let store = Store::with_kv(Box::new(kv)).unwrap();
    let (_, genesis_hash) = init_dev(&store);
    let mut batch = WriteBatch::default();
    batch.put(Table::Headers, genesis_hash.as_slice(), vec![0xf9, 0x02]); // truncated RLP list
    batch.put(Table::Accounts, Address::ZERO.as_slice(), vec![0xc1]);
    store.kv().write(batch).unwrap();
    let snapshot = store.snapshot().unwrap();
    let err = snapshot.head().unwrap_err().to_string();
    assert!(
        err.contains("table `headers`") && err.contains(&alloy_primitives::hex::encode(genesis_hash)),
        "{err}"
    );
    let err = snapshot.account(Address::ZERO).unwrap_err().to_string();
    assert!(err.contains("table `accounts`") && err.contains(&"00".repeat(20)), "{err}");
}

#[test]
fn flat_state_tampering_is_detected_by_check_state() {
    let store = Store::memory();
    let (genesis, _) = init_dev(&store);
    store.snapshot().unwrap().check_state(genesis.state_root).unwrap();
    let mut batch = WriteBatch::default();
    let mut key = Address::repeat_byte(0x42).to_vec();
    key.extend_from_slice(&[0u8; 32]);
    batch.put(Table::Storage, key, alloy_rlp::encode(U256::from(1)));
    store.kv().write(batch).unwrap();
    let err = store.snapshot().unwrap().check_state(genesis.state_root).unwrap_err();
    assert!(matches!(err, StoreError::StateMismatch(_)), "{err}");
}

#[test]
fn missing_trie_node_is_reported_by_check_state() {
    let store = Store::memory();
    let (genesis, _) = init_dev(&store);
    let mut batch = WriteBatch::default();
    batch.delete(Table::TrieNodes, genesis.state_root.as_slice());
    store.kv().write(batch).unwrap();
    let err = store.snapshot().unwrap().check_state(genesis.state_root).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
}

#[test]
fn newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        init_dev(&store);
        let mut batch = WriteBatch::default();
        batch.put(Table::Meta, b"version".as_slice(), 99u32.to_be_bytes());
        store.kv().write(batch).unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Version { found: 99, .. }), "{err}");
}

#[test]
fn garbage_database_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0x5a; 8192]).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("database open failed"), "{err}");
}

#[test]
fn unwind_restores_flat_state_and_allows_a_new_branch() {
    let store = Store::memory();
    let (genesis, genesis_hash) = init_dev(&store);
    let mut rng = Rng(0xfeed);
    let mut chain = vec![(genesis, genesis_hash)];
    for _ in 0..30 {
        let (parent, parent_hash) = chain.last().unwrap().clone();
        let changes = random_changes(&mut rng, &store, 16);
        chain.push(commit_child(&store, &parent, parent_hash, changes));
    }
    let removed_tx_free = store.unwind_to(12).unwrap();
    assert_eq!(removed_tx_free.len(), 18);
    assert_eq!(removed_tx_free[0], chain[30].1);
    let snapshot = store.snapshot().unwrap();
    let head = snapshot.head().unwrap().unwrap();
    assert_eq!(head.hash(), chain[12].1);
    assert_eq!(snapshot.canonical_hash(13).unwrap(), None);
    // The flat state is exactly block 12's state again.
    snapshot.check_state(chain[12].0.state_root).unwrap();
    // A different branch grows from there, and can be unwound again.
    let (mut parent, mut parent_hash) = chain[12].clone();
    for _ in 0..5 {
        let changes = random_changes(&mut rng, &store, 16);
        (parent, parent_hash) = commit_child(&store, &parent, parent_hash, changes);
        store.snapshot().unwrap().check_state(parent.state_root).unwrap();
    }
    assert_eq!(assert_chain_links(&store), 17);
    store.unwind_to(0).unwrap();
    store.snapshot().unwrap().check_state(chain[0].0.state_root).unwrap();
}
