//! Synthetic chains for store tests: real state roots (keel's trie update) over random state diffs.
#![allow(dead_code, clippy::unwrap_used)]

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use keel_primitives::{AccountChange, BlockBody, DevGenesis, Header, StateChanges};
use keel_store::{BlockCommit, Kv, KvRead, MemoryKv, Store, StoreError, Table, WriteBatch};
use std::sync::Arc;

/// A tiny deterministic PRNG (xorshift), so a failing sequence can be replayed from its seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Initialises `store` with the dev genesis; returns its header and hash.
pub(crate) fn init_dev(store: &Store) -> (Header, B256) {
    try_init_dev(store).unwrap()
}

/// [`init_dev`], returning the store's answer.
pub(crate) fn try_init_dev(store: &Store) -> Result<(Header, B256), StoreError> {
    let spec = DevGenesis::default().chain_spec().unwrap();
    let genesis = keel_evm::genesis_state(&spec).unwrap();
    let body = BlockBody {
        transactions: vec![],
        ommers: vec![],
        withdrawals: genesis.header.withdrawals_root.map(|_| Default::default()),
    };
    store.init(
        spec.spec_hash(),
        BlockCommit {
            header: &genesis.header,
            hash: genesis.hash,
            body: &body,
            senders: &[],
            receipts: &[],
            changes: &genesis.changes,
            trie_nodes: &genesis.trie_nodes,
        },
    )?;
    Ok((genesis.header, genesis.hash))
}

/// The dev genesis and `blocks` blocks of random state changes from `seed`, the flat state checked against the
/// trie after every block; returns (head hash, head state root).
pub(crate) fn run_chain(store: &Store, seed: u64, blocks: usize) -> (B256, B256) {
    let (mut parent, mut parent_hash) = init_dev(store);
    let mut rng = Rng(seed);
    for _ in 0..blocks {
        let changes = random_changes(&mut rng, store, 12);
        (parent, parent_hash) = commit_child(store, &parent, parent_hash, changes);
        store.snapshot().unwrap().check_state(parent.state_root).unwrap();
    }
    (parent_hash, parent.state_root)
}

/// A random state diff over a small address space (so accounts are revisited, wiped and deleted).
pub(crate) fn random_changes(rng: &mut Rng, store: &Store, accounts: usize) -> StateChanges {
    let snapshot = store.snapshot().unwrap();
    let mut changes = StateChanges::default();
    let mut picked: Vec<u64> = (0..accounts).map(|_| rng.below(64)).collect();
    picked.sort_unstable();
    picked.dedup();
    for i in picked {
        let address = Address::left_padding_from(&(i + 1).to_be_bytes());
        let previous = snapshot.account(address).unwrap();
        let roll = rng.below(10);
        let (account, wiped) = if roll == 0 {
            (None, false)
        } else {
            let mut account = previous.unwrap_or_default();
            account.nonce += 1;
            account.balance = U256::from(rng.next());
            let wiped = roll == 1 && previous.is_some();
            if wiped {
                account.storage_root = keel_primitives::EMPTY_ROOT_HASH;
            }
            (Some(account), wiped)
        };
        let mut storage: Vec<(U256, U256)> = if account.is_some() {
            (0..rng.below(8))
                .map(|_| {
                    (
                        U256::from(rng.below(32)),
                        if rng.below(4) == 0 { U256::ZERO } else { U256::from(rng.next()) },
                    )
                })
                .collect()
        } else {
            vec![]
        };
        storage.sort_unstable_by_key(|(slot, _)| *slot);
        storage.dedup_by_key(|(slot, _)| *slot);
        changes.accounts.push(AccountChange {
            address,
            hashed_address: keccak256(address),
            account,
            wiped,
            storage,
        });
    }
    if rng.below(3) == 0 {
        let code = Bytes::from(rng.next().to_be_bytes().to_vec());
        changes.new_code.push((keccak256(&code), code));
    }
    changes
}

/// Builds and commits a child of `parent` carrying `changes`; returns its header and hash.
pub(crate) fn commit_child(
    store: &Store,
    parent: &Header,
    parent_hash: B256,
    mut changes: StateChanges,
) -> (Header, B256) {
    let snapshot = store.snapshot().unwrap();
    let update = keel_evm::apply_state_changes(&snapshot, parent.state_root, &mut changes).unwrap();
    let header = Header {
        parent_hash,
        number: parent.number + 1,
        timestamp: parent.timestamp + 12,
        state_root: update.state_root,
        gas_limit: parent.gas_limit,
        base_fee_per_gas: parent.base_fee_per_gas,
        withdrawals_root: parent.withdrawals_root,
        blob_gas_used: parent.blob_gas_used,
        excess_blob_gas: parent.excess_blob_gas,
        parent_beacon_block_root: parent.parent_beacon_block_root,
        requests_hash: parent.requests_hash,
        ..Default::default()
    };
    let hash = keccak256(alloy_rlp::encode(&header));
    let body = BlockBody { transactions: vec![], ommers: vec![], withdrawals: None };
    store
        .commit_block(BlockCommit {
            header: &header,
            hash,
            body: &body,
            senders: &[],
            receipts: &[],
            changes: &changes,
            trie_nodes: &update.nodes,
        })
        .unwrap();
    (header, hash)
}

/// Asserts the canonical chain 0..=head links up by parent hash.
pub(crate) fn assert_chain_links(store: &Store) -> u64 {
    let snapshot = store.snapshot().unwrap();
    let head = snapshot.head().unwrap().unwrap();
    let mut expected_parent = None;
    for number in 0..=head.number {
        let block =
            snapshot.header_by_number(number).unwrap().unwrap_or_else(|| panic!("block {number} missing"));
        assert_eq!(keccak256(alloy_rlp::encode(block.inner())), block.hash(), "block {number} hash");
        if let Some(parent) = expected_parent {
            assert_eq!(block.parent_hash, parent, "block {number} parent");
        }
        expected_parent = Some(block.hash());
    }
    assert_eq!(expected_parent, Some(head.hash()));
    head.number
}

/// A table layer the test can reach around whatever is put in front of it (a journal, a cipher): to look at what it
/// stores, tamper with it, or keep it across a simulated crash.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedKv(pub(crate) Arc<MemoryKv>);

impl Kv for SharedKv {
    fn snapshot(&self) -> Result<Box<dyn KvRead>, StoreError> {
        self.0.snapshot()
    }
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.0.write(batch)
    }
}

/// Every entry of `table` under `prefix`, through `scan_prefix`, in the order handed out.
pub(crate) fn scan(kv: &dyn KvRead, table: Table, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    kv.scan_prefix(table, prefix, &mut |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        true
    })
    .unwrap();
    out
}
