//! Property test: random sequences of adds, mined blocks, reorganisations and restarts keep the pool's
//! invariants (every transaction indexed once, pending lists gapless from the state nonce, slot count and price
//! heaps in step) and never lose a valid transaction: every tracked nonce at or above its sender's state nonce
//! is in the pool (the transaction itself or a replacement).
#![allow(clippy::unwrap_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_txpool::{AccountState, Pool, PoolConfig, PoolHead, PoolTx, SystemClock, Validator};
use proptest::prelude::*;
use revm::primitives::hardfork::SpecId;
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

#[derive(Debug, Clone, Default)]
struct State(HashMap<Address, (u64, U256)>);

impl AccountState for State {
    fn nonce(&self, a: Address) -> u64 {
        self.0.get(&a).map_or(0, |x| x.0)
    }
    fn balance(&self, a: Address) -> U256 {
        self.0.get(&a).map_or(U256::ZERO, |x| x.1)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// sender, nonce ahead of the pending nonce (0 = next), fee cap in gwei.
    Add(usize, u64, u128),
    Mine,
    /// Undo this many of the latest blocks.
    Reorg(usize),
    Restart,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (0usize..3, 0u64..3, 1u128..6).prop_map(|(s, n, p)| Op::Add(s, n, p)),
        2 => Just(Op::Mine),
        1 => (1usize..3).prop_map(Op::Reorg),
        1 => Just(Op::Restart),
    ];
    proptest::collection::vec(op, 1..40)
}

const GWEI: u128 = 1_000_000_000;

fn sign(key: &PrivateKeySigner, nonce: u64, fee_cap: u128) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: fee_cap * GWEI,
        max_priority_fee_per_gas: fee_cap * GWEI,
        to: TxKind::Call(Address::repeat_byte(1)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(sig))
}

fn new_pool(state: &State) -> Pool {
    let head = PoolHead { number: 0, gas_limit: 30_000_000, base_fee: 0 };
    let validator = Validator { chain_id: 1, spec: SpecId::PRAGUE, gas_limit: 30_000_000, min_tip: 1 };
    let config = PoolConfig { journal: None, ..PoolConfig::default() };
    Pool::new(config, validator, head, Arc::new(state.clone()), Arc::new(SystemClock::default()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_add_mine_reorg_restart_keeps_invariants_and_local_transactions(ops in ops()) {
        let keys: Vec<PrivateKeySigner> =
            (1..=3u64).map(|i| PrivateKeySigner::from_bytes(&B256::from(U256::from(i))).unwrap()).collect();
        let mut state = State::default();
        for k in &keys {
            state.0.insert(k.address(), (0, U256::from(10u128.pow(20))));
        }
        let mut pool = new_pool(&state);
        // Local transactions the node tracks: (sender, nonce) → latest accepted transaction.
        let mut locals: BTreeMap<(Address, u64), PoolTx> = BTreeMap::new();
        // Mined blocks: the state before each and its transactions.
        let mut blocks: Vec<(State, Vec<PoolTx>)> = Vec::new();
        let mut number = 0;
        for op in ops {
            match op {
                Op::Add(s, ahead, price) => {
                    let key = &keys[s];
                    let nonce = pool.pending_nonce(key.address()) + ahead;
                    let tx = pool.validator().validate(sign(key, nonce, price)).unwrap();
                    let report = pool.add(vec![tx.clone()]);
                    if report.results[0].is_ok() {
                        locals.insert((key.address(), nonce), tx);
                    }
                }
                Op::Mine => {
                    let before = state.clone();
                    let mut included = Vec::new();
                    let mut best = pool.best(0);
                    while let Some(tx) = best.next() {
                        let entry = state.0.get_mut(&tx.sender()).unwrap();
                        if tx.nonce != entry.0 || tx.cost > entry.1 {
                            best.mark_invalid(tx.sender());
                            continue;
                        }
                        entry.0 += 1;
                        entry.1 -= U256::from(21_000u128 * tx.fee_cap) + U256::from(1);
                        included.push((*tx).clone());
                    }
                    number += 1;
                    blocks.push((before, included));
                    pool.reset(PoolHead { number, gas_limit: 30_000_000, base_fee: 0 }, Arc::new(state.clone()), Vec::new());
                }
                Op::Reorg(depth) => {
                    let depth = depth.min(blocks.len());
                    if depth == 0 {
                        continue;
                    }
                    let undone = blocks.split_off(blocks.len() - depth);
                    state = undone[0].0.clone();
                    number -= depth as u64;
                    let reinject: Vec<PoolTx> = undone.into_iter().flat_map(|(_, txs)| txs).collect();
                    pool.reset(PoolHead { number, gas_limit: 30_000_000, base_fee: 0 }, Arc::new(state.clone()), reinject);
                }
                Op::Restart => {
                    // The node restores its journal: every tracked transaction is offered to a fresh pool.
                    pool = new_pool(&state);
                    pool.add(locals.values().cloned().collect());
                }
            }
            pool.check_invariants().map_err(TestCaseError::fail)?;
            for (sender, nonce) in locals.keys() {
                if *nonce >= state.nonce(*sender) {
                    let (pending, queued) = pool.content_from(*sender);
                    let held = pending.iter().chain(&queued).any(|t| t.nonce == *nonce);
                    prop_assert!(held, "lost local transaction {sender} nonce {nonce}");
                }
            }
        }
    }
}
