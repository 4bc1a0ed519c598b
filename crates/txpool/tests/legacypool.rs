//! go-ethereum's legacypool tests, ported by name and intent (core/txpool/legacypool/legacypool_test.go), with
//! geth's numbers. After every test the pool's invariants are checked. Where keel deliberately differs (a run of
//! transactions that together overdraw the balance is not all pending), the test says so.
#![allow(clippy::unwrap_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_evm::RecoveredTx;
use keel_txpool::{
    AccountState, Added, Clock, Pool, PoolConfig, PoolError, PoolHead, PoolTx, Validator, TX_MAX_SIZE,
    TX_SLOT_SIZE,
};
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
    /// Transactions announced as newly pending (geth's `NewTxsEvent`s) since the last `take_events`.
    events: usize,
}

const GAS_LIMIT: u64 = 10_000_000;
/// geth's tests shorten the eviction loop's interval to this.
const EVICTION_INTERVAL: Duration = Duration::from_millis(100);

/// geth's `testTxPoolConfig`: the defaults without a journal.
fn test_config() -> PoolConfig {
    PoolConfig { journal: None, ..PoolConfig::default() }
}

fn setup_with(config: PoolConfig, gas_limit: u64) -> Env {
    let state = Arc::new(TestState::default());
    let clock = Arc::new(ManualClock::default());
    let head = PoolHead { number: 0, gas_limit, base_fee: 0 };
    let validator = Validator { chain_id: 1, spec: SpecId::PRAGUE, gas_limit, min_tip: 1 };
    let pool = Pool::new(config, validator, head, state.clone(), clock.clone());
    Env { pool, state, clock, head, events: 0 }
}

fn setup() -> Env {
    setup_with(test_config(), GAS_LIMIT)
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
        self.events += self.pool.reset(self.head, state, Vec::new()).len();
        self.check();
    }

    /// A new head whose next block has `base_fee` (geth's tests call `pool.priced.SetBaseFee`).
    fn set_base_fee(&mut self, base_fee: u64) {
        self.head.base_fee = base_fee;
        self.reset();
    }

    /// geth's `validateEvents`: how many transactions were announced since the last call.
    fn take_events(&mut self) -> usize {
        std::mem::take(&mut self.events)
    }

    /// geth's `pool.Stats()`: (pending, queued).
    fn stats(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.pending, status.queued)
    }

    fn now(&self) -> Duration {
        *self.clock.0.lock().unwrap()
    }

    /// Lets `span` pass, running the eviction of stale queues every `EVICTION_INTERVAL` as geth's loop does.
    fn sleep(&mut self, span: Duration) {
        let end = self.now() + span;
        loop {
            let next = self.now() + EVICTION_INTERVAL;
            if next > end {
                *self.clock.0.lock().unwrap() = end;
                break;
            }
            *self.clock.0.lock().unwrap() = next;
            self.pool.evict_stale();
            self.check();
        }
    }

    fn set_gas_limit(&mut self, gas_limit: u64) {
        self.head.gas_limit = gas_limit;
    }

    /// Validates (as RPC would) and adds a batch; one result per transaction.
    fn add(&mut self, txs: Vec<TxEnvelope>) -> Vec<Result<Added, PoolError>> {
        let validator = self.pool.validator();
        let checked: Vec<_> = txs.into_iter().map(|tx| validator.validate(tx)).collect();
        let valid: Vec<_> = checked.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
        let report = self.pool.add(valid);
        self.events += report.promoted.len();
        let mut added = report.results.into_iter();
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

/// geth's `pricedDataTransaction`: a legacy transaction of 0 wei carrying `bytes` bytes of (pseudo-random) data.
fn priced_data(nonce: u64, gas: u64, price: u128, key: &PrivateKeySigner, bytes: usize) -> TxEnvelope {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ bytes as u64);
    let data: Vec<u8> = (0..bytes).map(|_| rng.next() as u8).collect();
    let tx = TxLegacy {
        chain_id: None,
        nonce,
        gas_price: price,
        gas_limit: gas,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        input: Bytes::from(data),
    };
    sign_legacy(tx, key)
}

/// geth's `pricedValuedTransaction` (legacypool2_test.go).
fn priced_valued(nonce: u64, value: u128, gas: u64, price: u128, key: &PrivateKeySigner) -> TxEnvelope {
    let tx = TxLegacy { value: U256::from(value), ..legacy_fields(&priced(nonce, gas, price, key)) };
    sign_legacy(tx, key)
}

/// A small deterministic generator (xorshift64*), standing in for geth's `math/rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
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

/// geth's TestChainFork: after a fork resets the pool onto a fresh state, a transaction that was removed can be
/// added again.
#[test]
fn test_chain_fork() {
    let mut env = setup();
    let k = key(0);
    let addr = k.address();
    let reset_state = |env: &mut Env| {
        env.state = Arc::new(TestState::default());
        env.add_balance(addr, 100_000_000_000_000);
        env.set_gas_limit(1_000_000);
        env.reset();
    };
    reset_state(&mut env);
    let tx = transaction(0, 100_000, &k);
    let hash = *tx.tx_hash();
    env.add_one(tx.clone()).expect("first insert");
    assert!(env.pool.remove(hash), "the transaction was pooled");
    env.check();
    assert!(env.pool.is_empty());
    // Reset the pool's internal state.
    reset_state(&mut env);
    env.add_one(tx).expect("re-insert after the fork");
    assert!(env.pool.is_pending(&hash));
}

/// geth's TestPostponing: if a pending transaction is dropped (out of funds), all its consecutive followers (still
/// valid, but no longer executable) are postponed back into the future queue.
///
/// geth funds each account with 50,100 (every transaction fits alone) and then takes 1 wei away. With keel's rule
/// only the first transaction of each account would be pending at 50,100 (the run overdraws), so the accounts
/// get the run's total, 3,760,000, and the reduction lands on geth's 50,099: the numbers are geth's throughout.
#[test]
fn test_postponing() {
    let mut env = setup_with(test_config(), 1_000_000);
    let keys = [key(0), key(1)];
    let accs = [keys[0].address(), keys[1].address()];
    // 50 transactions of 25,100 and 50 of 50,100 per account.
    let run_cost: i64 = 50 * 25_100 + 50 * 50_100;
    for addr in accs {
        env.add_balance(addr, run_cost);
    }
    let mut txs = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        for j in 0..100u64 {
            let gas = if (i as u64 + j).is_multiple_of(2) { 25_000 } else { 50_000 };
            txs.push(transaction(j, gas, k));
        }
    }
    for (i, result) in env.add(txs.clone()).into_iter().enumerate() {
        assert!(result.is_ok(), "tx {i}: failed to add transaction: {result:?}");
    }
    let all_pending = |env: &Env| {
        assert_eq!(
            env.pending_of(accs[0]).len() + env.pending_of(accs[1]).len(),
            txs.len(),
            "pending mismatch"
        );
        assert!(env.pool.queued().is_empty(), "queued accounts mismatch");
        assert_eq!(env.pool.len(), txs.len(), "total transaction mismatch");
    };
    all_pending(&env);
    env.reset();
    all_pending(&env);

    // Reduce the balances so every 50,000-gas transaction is out of funds, and check the reorganisation.
    for addr in accs {
        env.add_balance(addr, -(run_cost - 50_099));
    }
    env.reset();
    let (pending0, queued0) = env.pool.content_from(accs[0]);
    let has = |list: &[keel_txpool::PooledTx], nonce: u64| list.iter().any(|t| t.nonce == nonce);
    // The first account's first transaction remains valid; later ones are either dropped or queued.
    assert!(has(&pending0, 0), "tx 0: valid and funded transaction missing from pending");
    assert!(!has(&queued0, 0), "tx 0: valid and funded transaction present in the queue");
    for (i, tx) in txs[1..100].iter().enumerate() {
        let nonce = legacy_fields(tx).nonce;
        assert!(!has(&pending0, nonce), "tx {}: transaction after a dropped one still pending", i + 1);
        if i % 2 == 1 {
            assert!(
                has(&queued0, nonce),
                "tx {}: valid but future transaction missing from the queue",
                i + 1
            );
        } else {
            assert!(!has(&queued0, nonce), "tx {}: out-of-fund transaction present in the queue", i + 1);
        }
    }
    // The second account's first transaction became invalid: everything is dropped or queued.
    let (pending1, queued1) = env.pool.content_from(accs[1]);
    assert!(pending1.is_empty(), "invalidated account still has pending transactions");
    for (i, tx) in txs[100..].iter().enumerate() {
        let nonce = legacy_fields(tx).nonce;
        if i % 2 == 1 {
            assert!(
                has(&queued1, nonce),
                "tx {}: valid but future transaction missing from the queue",
                100 + i
            );
        } else {
            assert!(!has(&queued1, nonce), "tx {}: out-of-fund transaction present in the queue", 100 + i);
        }
    }
    assert_eq!(env.pool.len(), txs.len() / 2, "total transaction mismatch");
}

/// Every sender's queue within `account_queue`, all queues within `global_queue`.
fn assert_queue_limits(env: &Env, config: &PoolConfig) {
    let mut queued = 0;
    for (addr, list) in env.pool.queued() {
        assert!(
            list.len() as u64 <= config.account_queue,
            "addr {addr}: queued transactions overflow the allowance: {} > {}",
            list.len(),
            config.account_queue
        );
        queued += list.len() as u64;
    }
    assert!(
        queued <= config.global_queue,
        "total queued overflows the allowance: {queued} > {}",
        config.global_queue
    );
    // Far more was offered than fits: the queue is exactly full.
    assert_eq!(queued, config.global_queue, "the queue should be full");
}

/// geth's TestQueueGlobalLimiting(NoLocals): when the queued transactions of many accounts exceed the global
/// limit, the excess is dropped. geth's second half adds a local account's batch, which is exempt unless locals
/// are disabled; keel has no locals, so it takes the NoLocals branch: the limits hold after that batch too.
#[test]
fn test_queue_global_limiting() {
    let base = test_config();
    // Reduced to shorten the test (-1 to make it non-divisible).
    let config = PoolConfig { global_queue: base.account_queue * 3 - 1, ..base };
    let mut env = setup_with(config.clone(), 1_000_000);
    let keys: Vec<_> = (0..5).map(key).collect();
    for k in &keys {
        env.add_balance(k.address(), 1_000_000);
    }
    let local = &keys[4];
    let mut rng = Rng(0x5eed);
    let mut nonces: HashMap<Address, u64> = HashMap::new();
    let mut txs = Vec::new();
    while (txs.len() as u64) < 3 * config.global_queue {
        // Skip the "local" account.
        let k = &keys[rng.below(keys.len() - 1)];
        let nonce = nonces.entry(k.address()).or_default();
        *nonce += 1;
        txs.push(transaction(*nonce, 100_000, k));
    }
    env.add(txs);
    assert_queue_limits(&env, &config);

    let txs = (0..3 * config.global_queue).map(|i| transaction(i + 1, 100_000, local)).collect();
    env.add(txs);
    assert_queue_limits(&env, &config);
}

/// geth's TestQueueTimeLimiting(NoLocals): an account's queued (non-executable) transactions are dropped once it
/// has been idle for the lifetime; a promotion restarts the clock. geth's second account is local and exempt
/// unless locals are disabled; keel has no locals, so both accounts are remote and the numbers are the NoLocals
/// ones (geth's local variant keeps one more queued transaction at the two eviction points).
#[test]
fn test_queue_time_limiting() {
    let config = PoolConfig { lifetime: Duration::from_secs(1), ..test_config() };
    let lifetime = config.lifetime;
    let mut env = setup_with(config, 1_000_000);
    let (local, remote) = (key(1), key(2));
    env.add_balance(local.address(), 1_000_000_000);
    env.add_balance(remote.address(), 1_000_000_000);

    // Add the two transactions and ensure they both are queued up.
    env.add_one(priced(1, 100_000, 1, &local)).expect("first account's transaction");
    env.add_one(priced(1, 100_000, 1, &remote)).expect("second account's transaction");
    assert_eq!(env.stats(), (0, 2));

    // Let the eviction run: the lifetime has not passed yet.
    env.sleep(2 * EVICTION_INTERVAL);
    assert_eq!(env.stats(), (0, 2), "evicted before the lifetime passed");

    // Wait for the eviction to clean up (geth with locals: 1 queued).
    env.sleep(2 * lifetime);
    assert_eq!(env.stats(), (0, 0), "stale queued transactions not evicted");

    // Included in a block: a reset leaves nothing.
    env.set_nonce(remote.address(), 2);
    env.set_nonce(local.address(), 2);
    env.reset();
    assert_eq!(env.stats(), (0, 0));

    // Queue gapped transactions, let half a lifetime pass.
    env.add_one(priced(4, 100_000, 1, &local)).expect("gapped transaction");
    env.add_one(priced(4, 100_000, 1, &remote)).expect("gapped transaction");
    env.sleep(5 * EVICTION_INTERVAL);

    // Executable transactions restart the accounts' life cycle.
    env.add_one(priced(2, 100_000, 1, &local)).expect("executable transaction");
    env.add_one(priced(2, 100_000, 1, &remote)).expect("executable transaction");
    env.sleep(6 * EVICTION_INTERVAL);
    // The gapped transactions were not kicked out: their accounts were active 0.6 s ago.
    assert_eq!(env.stats(), (2, 2), "gapped transactions evicted despite the promotion");

    // A whole lifetime after the last promotion the stale ones go (geth with locals: 1 queued).
    env.sleep(2 * lifetime);
    assert_eq!(env.stats(), (2, 0), "stale gapped transactions not evicted");
}

/// geth's TestPendingGlobalLimiting: when the pending transactions of several accounts exceed the global limit,
/// the excess is dropped. geth funds each account with 1,000,000, which covers 64 transactions of 100,100 only
/// one at a time; keel would keep the unaffordable rest queued, so the accounts get enough for the run.
#[test]
fn test_pending_global_limiting() {
    let base = test_config();
    let config = PoolConfig { global_slots: base.account_slots * 10, ..base };
    let mut env = setup_with(config.clone(), 1_000_000);
    let keys: Vec<_> = (0..5).map(key).collect();
    let mut txs = Vec::new();
    for k in &keys {
        env.add_balance(k.address(), 100_000_000);
        for j in 0..config.global_slots / keys.len() as u64 * 2 {
            txs.push(transaction(j, 100_000, k));
        }
    }
    env.add(txs);
    let pending = env.stats().0 as u64;
    assert!(
        pending <= config.global_slots,
        "total pending overflows the allowance: {pending} > {}",
        config.global_slots
    );
    // Every sender was cut down equally: 5 × 32.
    assert_eq!(pending, config.global_slots, "pending should be exactly at the limit");
}

/// geth's TestAllowedTxSize: transactions up to the maximal size are accepted, larger ones refused.
#[test]
fn test_allowed_tx_size() {
    let mut env = setup();
    let k = key(0);
    env.add_balance(k.address(), 1_000_000_000);
    // Everything but the data takes at most 213 bytes (nonce, price, gas limit, recipient, value, signature).
    let base_size = 213;
    let data_size = TX_MAX_SIZE - base_size;
    let mut rng = Rng(0x0a11_0ced);
    let gas = env.head.gas_limit;

    let tx = priced_data(0, gas, 1, &k, data_size);
    let size = alloy_eips::eip2718::Encodable2718::encode_2718_len(&tx);
    env.add_one(tx).unwrap_or_else(|e| panic!("transaction of size {size}, close to maximal, refused: {e}"));
    env.add_one(priced_data(1, gas, 1, &k, rng.below(data_size)))
        .unwrap_or_else(|e| panic!("transaction of random allowed size refused: {e}"));
    assert_eq!(
        kind(env.add_one(priced_data(2, gas, 1, &k, TX_MAX_SIZE))),
        "oversized data",
        "slightly oversized transaction accepted"
    );
    assert_eq!(
        kind(env.add_one(priced_data(2, gas, 1, &k, data_size + 1 + rng.below(10 * TX_MAX_SIZE)))),
        "oversized data",
        "oversized transaction accepted"
    );
    assert_eq!(env.stats(), (2, 0));
}

/// geth's TestPendingMinimumAllowance: above the global limit, accounts keep their guaranteed `account_slots`.
/// (Balances raised from geth's 1,000,000 so keel's rule lets each account's 32 transactions all be pending.)
#[test]
fn test_pending_minimum_allowance() {
    let config = PoolConfig { global_slots: 1, ..test_config() };
    let mut env = setup_with(config.clone(), 1_000_000);
    let keys: Vec<_> = (0..5).map(key).collect();
    let mut txs = Vec::new();
    for k in &keys {
        env.add_balance(k.address(), 100_000_000);
        for j in 0..config.account_slots * 2 {
            txs.push(transaction(j, 100_000, k));
        }
    }
    env.add(txs);
    let pending = env.pool.pending();
    assert_eq!(pending.len(), keys.len(), "every account keeps pending transactions");
    for (addr, list) in pending {
        assert_eq!(list.len() as u64, config.account_slots, "addr {addr}: pending transactions mismatch");
    }
}

/// geth's TestRepricing: raising the minimum tip drops everything cheaper and moves the gapped pending
/// transactions back to the queue. geth's keys[3] transactions are local (kept, and accepted below the tip);
/// keel has no locals: they are remote here, so the repriced pool has one pending transaction fewer and the
/// cheap keys[3] transaction is refused.
#[test]
fn test_repricing() {
    let mut env = setup_with(test_config(), 1_000_000);
    let keys: Vec<_> = (0..4).map(key).collect();
    for k in &keys {
        env.add_balance(k.address(), 1_000_000);
    }
    let txs = vec![
        priced(0, 100_000, 2, &keys[0]),
        priced(1, 100_000, 1, &keys[0]),
        priced(2, 100_000, 2, &keys[0]),
        priced(0, 100_000, 1, &keys[1]),
        priced(1, 100_000, 2, &keys[1]),
        priced(2, 100_000, 2, &keys[1]),
        priced(1, 100_000, 2, &keys[2]),
        priced(2, 100_000, 1, &keys[2]),
        priced(3, 100_000, 2, &keys[2]),
    ];
    let results = env.add(txs);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    env.add_one(priced(0, 100_000, 1, &keys[3])).expect("keys[3] transaction");
    assert_eq!(env.stats(), (7, 3));
    assert_eq!(env.take_events(), 7, "original event firing");

    // Reprice the pool and check that underpriced transactions get dropped.
    env.pool.set_min_tip(2);
    env.check();
    // geth: (2, 5), its local keys[3] transaction surviving.
    assert_eq!(env.stats(), (1, 5));
    assert_eq!(env.pending_of(keys[0].address()), vec![0]);
    assert_eq!(env.queued_of(keys[0].address()), vec![2]);
    assert_eq!(env.queued_of(keys[1].address()), vec![1, 2]);
    assert_eq!(env.queued_of(keys[2].address()), vec![1, 3]);

    // The old transactions cannot come back.
    for (tx, what) in [
        (priced(1, 100_000, 1, &keys[0]), "pending"),
        (priced(0, 100_000, 1, &keys[1]), "pending"),
        (priced(2, 100_000, 1, &keys[2]), "queued"),
    ] {
        assert_eq!(kind(env.add_one(tx)), "transaction underpriced", "adding underpriced {what} transaction");
    }
    // geth accepts this one as local (pending 3); here it is a remote below the tip.
    assert_eq!(kind(env.add_one(priced(1, 100_000, 1, &keys[3]))), "transaction underpriced");
    assert_eq!(env.take_events(), 0, "post-reprice event firing");

    // Gaps can be filled with properly priced transactions.
    env.add_one(priced(1, 100_000, 2, &keys[0])).expect("pending transaction");
    env.add_one(priced(0, 100_000, 2, &keys[1])).expect("pending transaction");
    env.add_one(priced(2, 100_000, 2, &keys[2])).expect("queued transaction");
    assert_eq!(env.take_events(), 5, "post-reprice event firing");
    assert_eq!(env.stats(), (6, 3));
}

/// geth's TestRepricingDynamicFee: TestRepricing with dynamic-fee transactions. As there, geth's keys[3]
/// transactions are local and here remote.
#[test]
fn test_repricing_dynamic_fee() {
    let mut env = setup();
    let keys: Vec<_> = (0..4).map(key).collect();
    for k in &keys {
        env.add_balance(k.address(), 1_000_000);
    }
    let txs = vec![
        priced(0, 100_000, 2, &keys[0]),
        priced(1, 100_000, 1, &keys[0]),
        priced(2, 100_000, 2, &keys[0]),
        dynamic(0, 100_000, 2, 1, &keys[1]),
        dynamic(1, 100_000, 3, 2, &keys[1]),
        dynamic(2, 100_000, 3, 2, &keys[1]),
        dynamic(1, 100_000, 2, 2, &keys[2]),
        dynamic(2, 100_000, 1, 1, &keys[2]),
        dynamic(3, 100_000, 2, 2, &keys[2]),
    ];
    let results = env.add(txs);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    env.add_one(dynamic(0, 100_000, 2, 1, &keys[3])).expect("keys[3] transaction");
    assert_eq!(env.stats(), (7, 3));
    assert_eq!(env.take_events(), 7, "original event firing");

    env.pool.set_min_tip(2);
    env.check();
    // geth: (2, 5), its local keys[3] transaction surviving.
    assert_eq!(env.stats(), (1, 5));

    for (tx, what) in [
        (priced(1, 100_000, 1, &keys[0]), "pending"),
        (dynamic(0, 100_000, 2, 1, &keys[1]), "pending"),
        (dynamic(2, 100_000, 1, 1, &keys[2]), "queued"),
    ] {
        assert_eq!(kind(env.add_one(tx)), "transaction underpriced", "adding underpriced {what} transaction");
    }
    // geth accepts this one as local (pending 3); here it is a remote below the tip.
    assert_eq!(kind(env.add_one(dynamic(1, 100_000, 1, 1, &keys[3]))), "transaction underpriced");
    assert_eq!(env.take_events(), 0, "post-reprice event firing");

    env.add_one(priced(1, 100_000, 2, &keys[0])).expect("pending transaction");
    env.add_one(dynamic(0, 100_000, 3, 2, &keys[1])).expect("pending transaction");
    env.add_one(dynamic(2, 100_000, 2, 2, &keys[2])).expect("queued transaction");
    assert_eq!(env.take_events(), 5, "post-reprice event firing");
    assert_eq!(env.stats(), (6, 3));
}

/// geth's TestUnderpricing: when the pool is full, cheap transactions are shifted out for more expensive ones, a
/// sender's gapped pending transactions move to the queue, and a future transaction may not push out a pending
/// one.
///
/// geth's keys[2] transaction is local: exempt from eviction and not in the price heaps. keel has no locals, so
/// it is a remote here, the cheapest in the pool (price 1, nonce 0), and the third insertion evicts it where
/// geth evicts keys[0]'s transactions; the states below follow geth's algorithm with it remote (geth ends with
/// pending 2, queued 2 and 2 events). geth's last part (locals pushing out remotes) has no keel equivalent.
/// Balances are raised from geth's 1,000,000, which keys[1]'s four pending transactions here would exceed.
#[test]
fn test_underpricing() {
    let config = PoolConfig { global_slots: 2, global_queue: 2, ..test_config() };
    let mut env = setup_with(config, 1_000_000);
    let keys: Vec<_> = (0..5).map(key).collect();
    let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    for addr in &addrs {
        env.add_balance(*addr, 100_000_000);
    }
    let results = env.add(vec![
        priced(0, 100_000, 1, &keys[0]),
        priced(1, 100_000, 2, &keys[0]),
        priced(1, 100_000, 1, &keys[1]),
    ]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    env.add_one(priced(0, 100_000, 1, &keys[2])).expect("keys[2] transaction");
    assert_eq!(env.stats(), (3, 1));
    assert_eq!(env.take_events(), 3, "original event firing");

    // An underpriced transaction is refused when the pool is full.
    assert_eq!(env.add_one(priced(0, 100_000, 1, &keys[1])), Err(PoolError::Underpriced));
    // Replace a future transaction with a future transaction: K1:1 (price 1) is evicted for K1:1 (price 2).
    env.add_one(priced(1, 100_000, 2, &keys[1])).expect("well priced transaction");
    assert_eq!((env.pending_of(addrs[0]), env.pending_of(addrs[2])), (vec![0, 1], vec![0]));
    assert_eq!(env.queued_of(addrs[1]), vec![1]);
    // High priced transactions drop cheap ones, but not the sender's own: K2:0 goes, K1:0 and K1:1 are pending.
    env.add_one(priced(0, 100_000, 3, &keys[1])).expect("well priced transaction");
    assert_eq!(env.pending_of(addrs[1]), vec![0, 1]);
    assert_eq!(env.pending_of(addrs[0]), vec![0, 1]);
    assert!(env.pool.content_from(addrs[2]) == (vec![], vec![]), "K2:0 should be evicted");
    // K0:0 goes, and K0:1 behind it moves to the queue.
    env.add_one(priced(2, 100_000, 4, &keys[1])).expect("well priced transaction");
    assert_eq!(env.pending_of(addrs[1]), vec![0, 1, 2]);
    assert_eq!((env.pending_of(addrs[0]), env.queued_of(addrs[0])), (vec![], vec![1]));
    // K0:1 goes.
    env.add_one(priced(3, 100_000, 5, &keys[1])).expect("well priced transaction");
    assert_eq!(env.pending_of(addrs[1]), vec![0, 1, 2, 3]);
    assert!(env.pool.queued().is_empty());
    // A future transaction may not replace a pending one.
    assert_eq!(env.add_one(priced(5, 100_000, 6, &keys[1])), Err(PoolError::FutureReplacePending));
    // geth: (2, 2) and 2 events.
    assert_eq!(env.stats(), (4, 0));
    assert_eq!(env.take_events(), 4, "additional event firing");
}

/// geth's TestStableUnderpricing: a more expensive transaction pushes out a cheap one without opening a gap that
/// would bounce transactions between pending and queued. (geth's `GlobalQueue = 0` is sanitised to the default,
/// so the newcomer fits and the fairness cut takes the big sender's last transaction.) Balances are raised from
/// geth's 1,000,000 so keel's rule lets all 128 transactions be pending.
#[test]
fn test_stable_underpricing() {
    let config = PoolConfig { global_slots: 128, global_queue: 0, ..test_config() };
    let mut env = setup_with(config.clone(), 1_000_000);
    let keys: Vec<_> = (0..2).map(key).collect();
    for k in &keys {
        env.add_balance(k.address(), 100_000_000);
    }
    // Fill up the pending slots with the same price points.
    let txs = (0..config.global_slots).map(|i| priced(i, 100_000, 1, &keys[0])).collect();
    env.add(txs);
    assert_eq!(env.stats(), (config.global_slots as usize, 0));
    assert_eq!(env.take_events(), config.global_slots as usize, "original event firing");

    // A high priced transaction drops a cheap one, but does not produce a gap.
    env.add_one(priced(0, 100_000, 3, &keys[1])).expect("well priced transaction");
    assert_eq!(env.stats(), (config.global_slots as usize, 0));
    assert_eq!(env.take_events(), 1, "additional event firing");
    assert_eq!(env.pending_of(keys[0].address()), (0..config.global_slots - 1).collect::<Vec<_>>());
}

/// geth's TestUnderpricingDynamicFee: TestUnderpricing with dynamic-fee transactions. Two differences in the
/// setting change the path: geth's keys[2] transaction is local (here remote, so it is the one evicted by the
/// third insertion, where geth evicts K0:1), and geth's test pool has never seen a head, so its urgent heap
/// orders by fee cap; keel's always knows the next base fee (0 here) and orders by effective tip, as geth does
/// from the first head on. K1:2 (fee cap 4, tip 1) therefore tips less than everything pooled and is refused
/// (geth accepts it, evicting K1:0): keel ends with pending 4, queued 0 where geth has 2 and 2. The events, 2,
/// are geth's.
#[test]
fn test_underpricing_dynamic_fee() {
    let config = PoolConfig { global_slots: 2, global_queue: 2, ..test_config() };
    let mut env = setup_with(config, GAS_LIMIT);
    let keys: Vec<_> = (0..4).map(key).collect();
    let addrs: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    for addr in &addrs {
        env.add_balance(*addr, 1_000_000);
    }
    let results = env.add(vec![
        dynamic(0, 100_000, 3, 2, &keys[0]),
        priced(1, 100_000, 2, &keys[0]),
        dynamic(1, 100_000, 2, 1, &keys[1]),
    ]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    env.add_one(dynamic(0, 100_000, 2, 1, &keys[2])).expect("keys[2] transaction");
    assert_eq!(env.stats(), (3, 1));
    assert_eq!(env.take_events(), 3, "original event firing");

    // An underpriced transaction is refused.
    assert_eq!(env.add_one(dynamic(0, 100_000, 2, 1, &keys[1])), Err(PoolError::Underpriced));
    // High priced transactions drop cheap ones, but not the sender's own: +K1:0, -K1:1.
    env.add_one(priced(0, 100_000, 2, &keys[1])).expect("well priced transaction");
    assert_eq!(env.pending_of(addrs[1]), vec![0]);
    assert!(env.queued_of(addrs[1]).is_empty(), "K1:1 should be evicted");
    // +K1:1, -K2:0 (geth: -K0:1).
    env.add_one(priced(1, 100_000, 3, &keys[1])).expect("well priced transaction");
    assert_eq!(env.pending_of(addrs[1]), vec![0, 1]);
    assert_eq!(env.pending_of(addrs[0]), vec![0, 1]);
    assert!(env.pool.content_from(addrs[2]) == (vec![], vec![]), "K2:0 should be evicted");
    // Effective tip 1 at base fee 0, below every pooled transaction's (geth, ordering by fee cap: accepted).
    assert_eq!(env.add_one(dynamic(2, 100_000, 4, 1, &keys[1])), Err(PoolError::Underpriced));
    assert_eq!(env.stats(), (4, 0));
    assert_eq!(env.take_events(), 2, "additional event firing");
}

/// geth's TestDualHeapEviction: with a full pool, the transaction with the highest fee cap survives a batch of
/// high effective tip transactions and vice versa, at every base fee.
#[test]
fn test_dual_heap_eviction() {
    let config = PoolConfig { global_slots: 10, global_queue: 10, ..test_config() };
    let mut env = setup_with(config, GAS_LIMIT);
    let mut next_key = 1000;
    let mut add = |env: &mut Env, urgent: bool, base_fee: u128| -> B256 {
        let mut highest = B256::ZERO;
        for i in 0..20 {
            let k = key(next_key);
            next_key += 1;
            env.add_balance(k.address(), 1_000_000_000_000);
            let tx = if urgent {
                dynamic(0, 100_000, base_fee + 1 + i, 1 + i, &k)
            } else {
                dynamic(0, 100_000, base_fee + 200 + i, 1, &k)
            };
            highest = *tx.tx_hash();
            let _ = env.add_one(tx);
        }
        let (pending, queued) = env.stats();
        assert_eq!(pending + queued, 20, "transaction count mismatch");
        highest
    };
    let mut high_cap = add(&mut env, false, 0);
    let mut base_fee = 0;
    while base_fee <= 1000 {
        env.set_base_fee(base_fee as u64);
        let high_tip = add(&mut env, true, base_fee);
        assert!(
            env.pool.get(&high_cap).is_some(),
            "highest fee cap transaction evicted (base fee {base_fee})"
        );
        high_cap = add(&mut env, false, base_fee);
        assert!(
            env.pool.get(&high_tip).is_some(),
            "highest effective tip transaction evicted (base fee {base_fee})"
        );
        base_fee += 100;
    }
    env.check();
}

/// geth's TestDeduplication: the pool refuses transactions it already has.
#[test]
fn test_deduplication() {
    let mut env = setup_with(test_config(), 1_000_000);
    let k = key(0);
    env.add_balance(k.address(), 1_000_000_000);
    let txs: Vec<_> = (0..16).map(|i| priced(i, 100_000, 1, &k)).collect();
    let firsts: Vec<_> = txs.iter().step_by(2).cloned().collect();
    let results = env.add(firsts.clone());
    assert_eq!(results.len(), firsts.len(), "first add mismatching result count");
    for (i, result) in results.iter().enumerate() {
        assert!(result.is_ok(), "add {i} failed: {result:?}");
    }
    assert_eq!(env.stats(), (1, txs.len() / 2 - 1));
    // Add all of them: the previous ones are known.
    let results = env.add(txs.clone());
    assert_eq!(results.len(), txs.len(), "all add mismatching result count");
    for (i, result) in results.into_iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(result, Err(PoolError::AlreadyKnown), "add {i} should have failed as known");
        } else {
            assert!(result.is_ok(), "add {i} failed: {result:?}");
        }
    }
    assert_eq!(env.stats(), (txs.len(), 0));
}

/// geth's TestReplacement: a replacement must raise the price by the minimum bump (for ultra low prices too),
/// for pending and queued transactions alike; pending replacements are announced, queued ones are not.
#[test]
fn test_replacement() {
    let mut env = setup_with(test_config(), 1_000_000);
    let k = key(0);
    env.add_balance(k.address(), 1_000_000_000);
    let price: u128 = 100;
    let threshold = price * (100 + u128::from(env.pool.config().price_bump)) / 100;

    // Pending.
    let original = env.add_one(priced(0, 100_000, 1, &k)).expect("original cheap pending transaction");
    assert_eq!(
        env.add_one(priced(0, 100_001, 1, &k)),
        Err(PoolError::ReplaceUnderpriced),
        "original cheap pending transaction replacement"
    );
    let replacement =
        env.add_one(priced(0, 100_000, 2, &k)).expect("replace original cheap pending transaction");
    assert_eq!(replacement.replaced, Some(original.hash));
    assert_eq!(env.take_events(), 2, "cheap replacement event firing");

    env.add_one(priced(0, 100_000, price, &k)).expect("original proper pending transaction");
    assert_eq!(
        env.add_one(priced(0, 100_001, threshold - 1, &k)),
        Err(PoolError::ReplaceUnderpriced),
        "original proper pending transaction replacement"
    );
    env.add_one(priced(0, 100_000, threshold, &k)).expect("replace original proper pending transaction");
    assert_eq!(env.take_events(), 2, "proper replacement event firing");

    // Queued.
    env.add_one(priced(2, 100_000, 1, &k)).expect("original cheap queued transaction");
    assert_eq!(
        env.add_one(priced(2, 100_001, 1, &k)),
        Err(PoolError::ReplaceUnderpriced),
        "original cheap queued transaction replacement"
    );
    env.add_one(priced(2, 100_000, 2, &k)).expect("replace original cheap queued transaction");

    env.add_one(priced(2, 100_000, price, &k)).expect("original proper queued transaction");
    assert_eq!(
        env.add_one(priced(2, 100_001, threshold - 1, &k)),
        Err(PoolError::ReplaceUnderpriced),
        "original proper queued transaction replacement"
    );
    env.add_one(priced(2, 100_000, threshold, &k)).expect("replace original proper queued transaction");
    assert_eq!(env.take_events(), 0, "queued replacement event firing");
    assert_eq!(env.stats(), (1, 1));
}

/// geth's TestReplacementDynamicFee: a dynamic-fee replacement must raise both the fee cap and the tip by the
/// minimum bump, for pending and queued transactions alike.
#[test]
fn test_replacement_dynamic_fee() {
    let mut env = setup();
    let k = key(0);
    env.add_balance(k.address(), 1_000_000_000);
    let bump = u128::from(env.pool.config().price_bump);
    let fee_cap: u128 = 100;
    let fee_cap_threshold = fee_cap * (100 + bump) / 100;
    let tip: u128 = 60;
    let tip_threshold = tip * (100 + bump) / 100;

    for stage in ["pending", "queued"] {
        // With an empty state, nonce 0 is executable; nonce 2 is gapped.
        let nonce = if stage == "queued" { 2 } else { 0 };
        let count = if stage == "queued" { 0 } else { 2 };
        let underpriced = |env: &mut Env, tx| {
            assert_eq!(
                env.add_one(tx),
                Err(PoolError::ReplaceUnderpriced),
                "original {stage} transaction replacement error mismatch"
            );
        };

        // 1. Send the initial transaction.
        env.add_one(dynamic(nonce, 100_000, 2, 1, &k))
            .unwrap_or_else(|e| panic!("original cheap {stage} transaction refused: {e}"));
        // 2. No bump of the tip or the fee cap.
        underpriced(&mut env, dynamic(nonce, 100_001, 2, 1, &k));
        // 3. Bump both by more than the minimum.
        env.add_one(dynamic(nonce, 100_000, 3, 2, &k))
            .unwrap_or_else(|e| panic!("replacement of the cheap {stage} transaction refused: {e}"));
        // 4. Events: 2 new executable transactions while pending, none while queued.
        assert_eq!(env.take_events(), count, "cheap {stage} replacement event firing");
        // 5. A larger tip and fee cap.
        env.add_one(dynamic(nonce, 100_000, fee_cap, tip, &k))
            .unwrap_or_else(|e| panic!("original proper {stage} transaction refused: {e}"));
        // 6. Tip bumped just short of the threshold.
        underpriced(&mut env, dynamic(nonce, 100_000, fee_cap, tip_threshold - 1, &k));
        // 7. Fee cap bumped just short of the threshold.
        underpriced(&mut env, dynamic(nonce, 100_000, fee_cap_threshold - 1, tip, &k));
        // 8. Tip at the threshold, fee cap not bumped.
        underpriced(&mut env, dynamic(nonce, 100_000, fee_cap, tip_threshold, &k));
        // 9. Fee cap at the threshold, tip not bumped.
        underpriced(&mut env, dynamic(nonce, 100_000, fee_cap_threshold, tip, &k));
        // 10. Both at the threshold.
        env.add_one(dynamic(nonce, 100_000, fee_cap_threshold, tip_threshold, &k))
            .unwrap_or_else(|e| panic!("replacement of the proper {stage} transaction refused: {e}"));
        // 11. Events as in 4.
        assert_eq!(env.take_events(), count, "replacement {stage} event firing");
    }
    assert_eq!(env.stats(), (1, 1));
}

/// geth's TestStatusCheck: the pool tells pending, queued and unknown transactions apart.
#[test]
fn test_status_check() {
    let mut env = setup_with(test_config(), 1_000_000);
    let keys: Vec<_> = (0..3).map(key).collect();
    for k in &keys {
        env.add_balance(k.address(), 1_000_000);
    }
    let txs = vec![
        priced(0, 100_000, 1, &keys[0]), // Pending only
        priced(0, 100_000, 1, &keys[1]), // Pending and queued
        priced(2, 100_000, 1, &keys[1]),
        priced(2, 100_000, 1, &keys[2]), // Queued only
    ];
    env.add(txs.clone());
    assert_eq!(env.stats(), (2, 2));
    let status = |hash: &B256| match (env.pool.get(hash), env.pool.is_pending(hash)) {
        (None, _) => "unknown",
        (Some(_), true) => "pending",
        (Some(_), false) => "queued",
    };
    let mut hashes: Vec<B256> = txs.iter().map(|tx| *tx.tx_hash()).collect();
    hashes.push(B256::ZERO);
    let expect = ["pending", "pending", "queued", "queued", "unknown"];
    for (i, hash) in hashes.iter().enumerate() {
        assert_eq!(status(hash), expect[i], "transaction {i}: status mismatch");
    }
}

/// geth's TestSlotCount: capacity is counted in 32 KiB slots.
#[test]
fn test_slot_count() {
    let k = key(0);
    let slots = |tx: TxEnvelope| PoolTx::new(RecoveredTx::recover(tx, 0).unwrap()).slots();
    assert_eq!(slots(priced_data(0, 0, 0, &k, 0)), 1, "small transaction slot count mismatch");
    assert_eq!(slots(priced_data(0, 0, 0, &k, 10 * TX_SLOT_SIZE)), 11, "big transaction slot count mismatch");
}

/// geth's `fillPool` (legacypool2_test.go): 384 funded accounts send `account_slots` executable transactions
/// each at price 300; the pool keeps what fits, all pending.
fn fill_pool(env: &mut Env) {
    let slots_per_account = env.pool.config().account_slots;
    let mut txs = Vec::new();
    for i in 0..384 {
        let k = key(10_000 + i);
        env.add_balance(k.address(), 10_000_000_000);
        for j in 0..slots_per_account {
            txs.push(priced(j, 100_000, 300, &k));
        }
    }
    env.add(txs);
    // The test's prerequisite: pending is full.
    assert_eq!(env.stats(), (env.pool.slots(), 0), "pending should fill the pool");
}

/// geth's TestTransactionFutureAttack: a batch of high-priced non-executable transactions does not push out
/// executable ones.
#[test]
fn test_transaction_future_attack() {
    let config = PoolConfig { global_queue: 100, global_slots: 100, ..test_config() };
    let mut env = setup_with(config.clone(), 1_000_000);
    fill_pool(&mut env);
    let (pending, _) = env.stats();
    // The attack: many expensive non-executables.
    let k = key(9_999);
    env.add_balance(k.address(), 100_000_000_000);
    let future_txs: Vec<_> =
        (0..config.global_slots + config.global_queue).map(|j| priced(1000 + j, 100_000, 500, &k)).collect();
    for _ in 0..5 {
        env.add(future_txs.clone());
    }
    let (new_pending, _) = env.stats();
    assert!(
        new_pending >= pending,
        "wrong pending count: have {new_pending}, want {pending} (global slots 100)"
    );
}

/// geth's TestTransactionZAttack: expensive non-executables from many accounts along with balance-overdrafting
/// transactions from one do not push out executable transactions, nor leave unfunded ones pending.
#[test]
fn test_transaction_z_attack() {
    let mut env = setup_with(test_config(), 1_000_000);
    fill_pool(&mut env);
    // Pending transactions whose value the sender's balance no longer covers, in nonce order.
    let count_invalid_pending = |env: &Env| {
        let mut invalid = 0;
        for (account, txs) in env.pool.pending() {
            let mut balance = env.state.balance(account);
            for tx in txs {
                let value = alloy_consensus::Transaction::value(&tx.tx.tx);
                if balance <= value {
                    invalid += 1;
                } else {
                    balance -= value;
                }
            }
        }
        env.check();
        invalid
    };
    let invalid_pending = count_invalid_pending(&env);
    let (pending, _) = env.stats();

    // The attack: one expensive non-executable from each of `global_queue` accounts ...
    for j in 0..env.pool.config().global_queue {
        let k = key(20_000 + j);
        env.add_balance(k.address(), 100_000_000_000);
        env.add(vec![priced(1000 + j, 21_000, 500, &k)]);
    }
    // ... and `global_slots` transactions from one account, each sending more than its balance.
    let k = key(9_999);
    env.add_balance(k.address(), 100_000_000_000);
    let overdrafts: Vec<_> = (0..env.pool.config().global_slots)
        .map(|j| priced_valued(j, 600_000_000_000, 21_000, 500, &k))
        .collect();
    for _ in 0..5 {
        env.add(overdrafts.clone());
    }
    assert_eq!(count_invalid_pending(&env), invalid_pending, "wrong invalid pending count");
    assert_eq!(env.stats().0, pending, "executable transactions were pushed out");
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

/// Osaka caps a transaction's gas at 2^24 (EIP-7825), below the block gas limit.
#[test]
fn osaka_caps_transaction_gas() {
    let env = setup_with(PoolConfig { journal: None, ..PoolConfig::default() }, 30_000_000);
    let validator = Validator { spec: SpecId::OSAKA, ..env.pool.validator() };
    let k = key(0);
    let err = validator.validate(transaction(0, (1 << 24) + 1, &k)).unwrap_err();
    assert_eq!(err.to_string(), "transaction gas limit too high (cap: 16777216, tx: 16777217)");
    assert!(validator.validate(transaction(0, 1 << 24, &k)).is_ok());
    // Before Osaka the block gas limit is the only cap.
    let prague = Validator { spec: SpecId::PRAGUE, ..env.pool.validator() };
    assert!(prague.validate(transaction(0, (1 << 24) + 1, &k)).is_ok());
}
