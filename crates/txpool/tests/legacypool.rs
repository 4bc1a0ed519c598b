//! go-ethereum's legacypool tests, ported by name and intent (core/txpool/legacypool/legacypool_test.go), with
//! geth's numbers. After every test the pool's invariants are checked. Where keel deliberately differs (a run of
//! transactions that together overdraw the balance is not all pending), the test says so.
#![allow(clippy::unwrap_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_txpool::{AccountState, Added, Clock, Pool, PoolConfig, PoolError, PoolHead, Validator};
use revm::primitives::hardfork::SpecId;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

#[derive(Debug, Default)]
struct TestState(Mutex<HashMap<Address, (u64, U256)>>);

impl AccountState for TestState {
    fn nonce(&self, address: Address) -> u64 {
        self.0.lock().unwrap().get(&address).map_or(0, |a| a.0)
    }
    fn balance(&self, address: Address) -> U256 {
        self.0.lock().unwrap().get(&address).map_or(U256::ZERO, |a| a.1)
    }
}

#[derive(Debug, Default)]
struct ManualClock(Mutex<Duration>);

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.0.lock().unwrap()
    }
}

struct Env {
    pool: Pool,
    state: Arc<TestState>,
    clock: Arc<ManualClock>,
    head: PoolHead,
}

const GAS_LIMIT: u64 = 10_000_000;

fn setup_with(config: PoolConfig, gas_limit: u64) -> Env {
    let state = Arc::new(TestState::default());
    let clock = Arc::new(ManualClock::default());
    let head = PoolHead { number: 0, gas_limit, base_fee: 0 };
    let validator = Validator { chain_id: 1, spec: SpecId::PRAGUE, gas_limit, min_tip: 1 };
    let pool = Pool::new(config, validator, head, state.clone(), clock.clone());
    Env { pool, state, clock, head }
}

fn setup() -> Env {
    setup_with(PoolConfig { journal: None, ..PoolConfig::default() }, GAS_LIMIT)
}

impl Env {
    fn add_balance(&self, address: Address, delta: i64) {
        let mut accounts = self.state.0.lock().unwrap();
        let entry = accounts.entry(address).or_default();
        entry.1 =
            if delta >= 0 { entry.1 + U256::from(delta) } else { entry.1 - U256::from(delta.unsigned_abs()) };
    }

    fn set_nonce(&self, address: Address, nonce: u64) {
        self.state.0.lock().unwrap().entry(address).or_default().0 = nonce;
    }

    /// A new head with the same state (geth's `requestReset(nil, nil)`).
    fn reset(&mut self) {
        let state = self.state.clone();
        self.pool.reset(self.head, state, Vec::new());
        self.check();
    }

    fn set_gas_limit(&mut self, gas_limit: u64) {
        self.head.gas_limit = gas_limit;
    }

    /// Validates (as RPC would) and adds a batch; one result per transaction.
    fn add(&mut self, txs: Vec<TxEnvelope>) -> Vec<Result<Added, PoolError>> {
        let validator = self.pool.validator();
        let checked: Vec<_> = txs.into_iter().map(|tx| validator.validate(tx)).collect();
        let valid: Vec<_> = checked.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
        let mut added = self.pool.add(valid).results.into_iter();
        let results = checked.into_iter().map(|r| r.and_then(|_| added.next().unwrap())).collect();
        self.check();
        results
    }

    fn add_one(&mut self, tx: TxEnvelope) -> Result<Added, PoolError> {
        self.add(vec![tx]).pop().unwrap()
    }

    fn check(&self) {
        self.pool.check_invariants().unwrap();
    }

    fn pending_of(&self, address: Address) -> Vec<u64> {
        self.pool.content_from(address).0.iter().map(|t| t.nonce).collect()
    }

    fn queued_of(&self, address: Address) -> Vec<u64> {
        self.pool.content_from(address).1.iter().map(|t| t.nonce).collect()
    }
}

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(i + 1))).unwrap()
}

/// geth's `pricedTransaction`: a legacy (unprotected) transfer of 100 wei to the zero address.
fn priced(nonce: u64, gas: u64, price: u128, key: &PrivateKeySigner) -> TxEnvelope {
    let tx = TxLegacy {
        chain_id: None,
        nonce,
        gas_price: price,
        gas_limit: gas,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(100),
        input: Bytes::new(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::Legacy(tx.into_signed(signature))
}

/// geth's `transaction`: gas price 1.
fn transaction(nonce: u64, gas: u64, key: &PrivateKeySigner) -> TxEnvelope {
    priced(nonce, gas, 1, key)
}

/// geth's `dynamicFeeTx`.
fn dynamic(nonce: u64, gas: u64, fee_cap: u128, tip: u128, key: &PrivateKeySigner) -> TxEnvelope {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: fee_cap,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::ZERO),
        value: U256::from(100),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::Eip1559(tx.into_signed(signature))
}

fn kind(result: Result<Added, PoolError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    }
}

#[test]
fn test_invalid_transactions() {
    let mut env = setup();
    let k = key(0);
    let from = k.address();
    env.add_balance(from, 1);
    assert_eq!(kind(env.add_one(transaction(0, 100, &k))), "intrinsic gas too low");
    assert_eq!(kind(env.add_one(transaction(0, 100_000, &k))), "insufficient funds for gas * price + value");
    env.set_nonce(from, 1);
    env.add_balance(from, 0xffffffffffffff);
    assert_eq!(kind(env.add_one(transaction(0, 100_000, &k))), "nonce too low");
    env.pool.set_min_tip(1000);
    assert_eq!(kind(env.add_one(transaction(1, 100_000, &k))), "transaction underpriced");
}

#[test]
fn test_tip_above_fee_cap_and_wrong_chain() {
    let mut env = setup();
    let k = key(0);
    assert_eq!(
        kind(env.add_one(dynamic(0, 100, 1, 2, &k))),
        "max priority fee per gas higher than max fee per gas"
    );
    // A transaction for another chain has no valid sender here.
    let mut tx = TxEip1559 { chain_id: 5, gas_limit: 21_000, max_fee_per_gas: 1, ..Default::default() };
    tx.to = TxKind::Call(Address::ZERO);
    let signature = k.sign_hash_sync(&tx.signature_hash()).unwrap();
    assert_eq!(kind(env.add_one(TxEnvelope::Eip1559(tx.into_signed(signature)))), "invalid sender");
    assert_eq!(kind(env.add_one(transaction(0, GAS_LIMIT + 1, &k))), "exceeds block gas limit");
}

#[test]
fn test_queue2() {
    let mut env = setup();
    let k = key(0);
    let from = k.address();
    env.add_balance(from, 1_000_000);
    env.reset();
    let results =
        env.add(vec![transaction(0, 21_000, &k), transaction(10, 21_000, &k), transaction(11, 21_000, &k)]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(env.pending_of(from), vec![0]);
    assert_eq!(env.queued_of(from), vec![10, 11]);
}

#[test]
fn test_double_nonce() {
    let mut env = setup();
    let k = key(0);
    let addr = k.address();
    env.add_balance(addr, 100_000_000_000_000);
    env.reset();
    let tx1 = priced(0, 100_000, 1, &k);
    let tx2 = TxLegacy { gas_limit: 1_000_000, gas_price: 2, ..legacy_fields(&tx1) };
    let tx2 = sign_legacy(tx2, &k);
    let tx3 = sign_legacy(TxLegacy { gas_limit: 1_000_000, gas_price: 1, ..legacy_fields(&tx1) }, &k);
    let first = env.add_one(tx1).unwrap();
    assert_eq!(first.replaced, None);
    let second = env.add_one(tx2.clone()).unwrap();
    assert_eq!(second.replaced, Some(first.hash));
    assert_eq!(env.pool.content_from(addr).0[0].hash(), *tx2.tx_hash());
    // The third pays less: not saved.
    assert_eq!(kind(env.add_one(tx3)), "replacement transaction underpriced");
    assert_eq!(env.pool.content_from(addr).0[0].hash(), *tx2.tx_hash());
    assert_eq!(env.pool.len(), 1);
}

fn legacy_fields(tx: &TxEnvelope) -> TxLegacy {
    match tx {
        TxEnvelope::Legacy(signed) => signed.tx().clone(),
        _ => unreachable!("a legacy transaction"),
    }
}

fn sign_legacy(tx: TxLegacy, key: &PrivateKeySigner) -> TxEnvelope {
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::Legacy(tx.into_signed(signature))
}

#[test]
fn test_missing_nonce() {
    let mut env = setup();
    let k = key(0);
    let addr = k.address();
    env.add_balance(addr, 100_000_000_000_000);
    env.add_one(transaction(1, 100_000, &k)).unwrap();
    assert_eq!(env.pool.status().pending, 0);
    assert_eq!(env.queued_of(addr), vec![1]);
    assert_eq!(env.pool.len(), 1);
}

#[test]
fn test_nonce_recovery() {
    const N: u64 = 10;
    let mut env = setup();
    let k = key(0);
    let addr = k.address();
    env.set_nonce(addr, N);
    env.add_balance(addr, 100_000_000_000_000);
    env.reset();
    env.add_one(transaction(N, 100_000, &k)).unwrap();
    // Some weird re-ordering with missing nonces.
    env.set_nonce(addr, N - 1);
    env.reset();
    assert_eq!(env.pool.pending_nonce(addr), N - 1);
}

/// geth drops pending and queued transactions an account can no longer pay for, and those above the block
/// gas limit. keel differs in one place: with balance 350, geth keeps tx0 (cost 200) and tx1 (300) pending as
/// each is affordable alone; keel demotes tx1 to the queue, since together they overdraw the account.
#[test]
fn test_dropping() {
    let mut env = setup();
    let k = key(0);
    let account = k.address();
    env.add_balance(account, 1000);
    let (tx0, tx1, tx2) = (transaction(0, 100, &k), transaction(1, 200, &k), transaction(2, 300, &k));
    let (tx10, tx11, tx12) = (transaction(10, 100, &k), transaction(11, 200, &k), transaction(12, 300, &k));
    // geth inserts these directly (intrinsic gas is not the point here): skip the stateless checks.
    let direct: Vec<_> = [tx0, tx1, tx2, tx10, tx11, tx12]
        .into_iter()
        .map(|tx| keel_txpool::PoolTx::new(keel_evm::RecoveredTx::recover(tx, 0).unwrap()))
        .collect();
    let report = env.pool.add(direct);
    assert!(report.results.iter().all(Result::is_ok), "{:?}", report.results);
    env.check();
    assert_eq!(env.pending_of(account), vec![0, 1, 2]);
    assert_eq!(env.queued_of(account), vec![10, 11, 12]);
    env.reset();
    assert_eq!(env.pending_of(account), vec![0, 1, 2]);
    assert_eq!(env.queued_of(account), vec![10, 11, 12]);
    assert_eq!(env.pool.len(), 6);

    env.add_balance(account, -650);
    env.reset();
    // geth: pending [0, 1], queued [10, 11]. keel: tx1 waits in the queue (200 + 300 > 350).
    assert_eq!(env.pending_of(account), vec![0]);
    assert_eq!(env.queued_of(account), vec![1, 10, 11]);
    assert_eq!(env.pool.len(), 4);

    env.set_gas_limit(100);
    env.reset();
    assert_eq!(env.pending_of(account), vec![0]);
    assert_eq!(env.queued_of(account), vec![10]);
    assert_eq!(env.pool.len(), 2);
}

#[test]
fn test_gap_filling() {
    let mut env = setup();
    let k = key(0);
    let account = k.address();
    env.add_balance(account, 1_000_000);
    let report = env.pool.add(
        [transaction(0, 21_000, &k), transaction(2, 21_000, &k)]
            .into_iter()
            .map(|tx| env.pool.validator().validate(tx).unwrap())
            .collect(),
    );
    assert_eq!(report.promoted.len(), 1);
    let status = env.pool.status();
    assert_eq!((status.pending, status.queued), (1, 1));
    env.check();
    let report = env.pool.add(vec![env.pool.validator().validate(transaction(1, 21_000, &k)).unwrap()]);
    assert_eq!(report.promoted.len(), 2, "gap filling announces both");
    let status = env.pool.status();
    assert_eq!((status.pending, status.queued), (3, 0));
    env.check();
}

#[test]
fn test_queue_account_limiting() {
    let mut env = setup();
    let k = key(0);
    let account = k.address();
    env.add_balance(account, 1_000_000);
    let limit = env.pool.config().account_queue;
    for i in 1..=limit + 5 {
        env.add_one(transaction(i, 21_000, &k)).unwrap();
        assert_eq!(env.pool.status().pending, 0);
        assert_eq!(env.queued_of(account).len() as u64, i.min(limit), "tx {i}");
    }
    assert_eq!(env.pool.len() as u64, limit);
}

#[test]
fn test_queue_time_limiting() {
    let mut env = setup_with(
        PoolConfig { journal: None, lifetime: Duration::from_secs(60), ..PoolConfig::default() },
        GAS_LIMIT,
    );
    let (k1, k2) = (key(1), key(2));
    env.add_balance(k1.address(), 1_000_000_000);
    env.add_balance(k2.address(), 1_000_000_000);
    env.add_one(transaction(1, 21_000, &k1)).unwrap();
    *env.clock.0.lock().unwrap() = Duration::from_secs(30);
    env.add_one(transaction(1, 21_000, &k2)).unwrap();
    // k1 idle for 61 s, k2 for 31 s: only k1's queue goes.
    *env.clock.0.lock().unwrap() = Duration::from_secs(61);
    assert_eq!(env.pool.evict_stale(), 1);
    assert_eq!(env.queued_of(k1.address()), Vec::<u64>::new());
    assert_eq!(env.queued_of(k2.address()), vec![1]);
    *env.clock.0.lock().unwrap() = Duration::from_secs(92);
    assert_eq!(env.pool.evict_stale(), 1);
    assert!(env.pool.is_empty());
    env.check();
}

#[test]
fn test_pending_limiting() {
    let mut env = setup();
    let k = key(0);
    let account = k.address();
    env.add_balance(account, 1_000_000_000_000);
    let limit = env.pool.config().account_queue;
    for i in 0..limit + 5 {
        let report = env.pool.add(vec![env.pool.validator().validate(transaction(i, 21_000, &k)).unwrap()]);
        assert_eq!(report.promoted.len(), 1);
        assert_eq!(env.pending_of(account).len() as u64, i + 1);
        assert_eq!(env.pool.status().queued, 0);
    }
    assert_eq!(env.pool.len() as u64, limit + 5);
    env.check();
}

/// keel's rule beyond geth: transactions that each fit the balance but together overdraw it are not all
/// pending; the rest wait in the queue and are promoted once the balance covers them.
#[test]
fn overdrawing_batch_is_not_all_pending() {
    let mut env = setup();
    let k = key(0);
    let account = k.address();
    // Each costs 21_000 + 100; the balance pays for two.
    env.add_balance(account, 2 * 21_100 + 50);
    let results = env.add(vec![transaction(0, 21_000, &k), transaction(1, 21_000, &k)]);
    assert!(results.iter().all(Result::is_ok));
    // A third is refused up front (geth's queued-cost check) ...
    assert_eq!(kind(env.add_one(transaction(2, 21_000, &k))), "insufficient funds for gas * price + value");
    assert_eq!(env.pending_of(account), vec![0, 1]);
    // ... but if the balance drops, the pending run is cut where it overdraws, and restored when it recovers.
    env.add_balance(account, -21_100);
    env.reset();
    assert_eq!(env.pending_of(account), vec![0]);
    assert_eq!(env.queued_of(account), vec![1]);
    env.add_balance(account, 21_100);
    env.reset();
    assert_eq!(env.pending_of(account), vec![0, 1]);
}

#[test]
fn best_transactions_order_by_tip_and_nonce() {
    let mut env = setup();
    let (a, b) = (key(1), key(2));
    env.add_balance(a.address(), 1_000_000_000_000);
    env.add_balance(b.address(), 1_000_000_000_000);
    let results = env.add(vec![
        dynamic(0, 21_000, 100, 1, &a),
        dynamic(1, 21_000, 100, 50, &a),
        dynamic(0, 21_000, 100, 10, &b),
        dynamic(1, 21_000, 5, 5, &b),
    ]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // Base fee 10: b0 (tip 10) before a0 (tip 1); a1 (tip 50) only after a0; b1 (fee cap 5) is left out.
    let order: Vec<(Address, u64)> = env.pool.best(10).map(|t| (t.sender(), t.nonce)).collect();
    assert_eq!(order, vec![(b.address(), 0), (a.address(), 0), (a.address(), 1)]);
    let mut best = env.pool.best(0);
    let first = best.next().unwrap();
    best.mark_invalid(first.sender());
    assert!(best.all(|t| t.sender() != first.sender()));
}
