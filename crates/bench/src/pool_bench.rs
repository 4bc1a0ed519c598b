//! `keel bench-pool`: the transaction pool on its own — insertion of pre-signed transfers (one sender and many
//! senders, with senders already recovered and with signature recovery in parallel), best-transaction iteration
//! for a 30M-gas block, memory per pooled transaction, and end-to-end eth_sendRawTransaction acceptance by a
//! running `keel node --no-mining`.

use crate::BenchError;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_evm::RecoveredTx;
use keel_node::txpool::{AccountState, Pool, PoolConfig, PoolHead, PoolTx, SystemClock, Validator};
use rayon::prelude::*;
use std::{sync::Arc, time::Instant};

/// Every account rich, every nonce starting at 0.
struct RichState;

impl AccountState for RichState {
    fn nonce(&self, _: Address) -> u64 {
        0
    }
    fn balance(&self, _: Address) -> U256 {
        U256::from(10u128.pow(30))
    }
}

const CHAIN_ID: u64 = 31337;
const GAS_LIMIT: u64 = 30_000_000;

fn validator() -> Validator {
    Validator {
        chain_id: CHAIN_ID,
        spec: revm::primitives::hardfork::SpecId::PRAGUE,
        gas_limit: GAS_LIMIT,
        min_tip: 1,
    }
}

/// A pool whose limits hold `n` transactions (geth's defaults would evict most of a million).
fn roomy_pool(n: usize) -> Pool {
    let n = n as u64;
    let config = PoolConfig {
        account_slots: n,
        global_slots: n,
        account_queue: n,
        global_queue: n,
        journal: None,
        ..PoolConfig::default()
    };
    let head = PoolHead { number: 0, gas_limit: GAS_LIMIT, base_fee: 1 };
    Pool::new(config, validator(), head, Arc::new(RichState), Arc::new(SystemClock::default()))
}

fn sender_keys(senders: usize) -> Vec<PrivateKeySigner> {
    (0..senders)
        .map(|i| {
            PrivateKeySigner::from_bytes(&B256::from(U256::from(0xbe7c_0000u64 + i as u64)))
                .expect("valid key")
        })
        .collect()
}

/// The accounts [`signed_transfers`] sends from.
pub fn transfer_senders(senders: usize) -> Vec<Address> {
    sender_keys(senders).iter().map(|k| k.address()).collect()
}

/// `count` signed transfers from `senders` accounts (nonces 0.. per sender), tips varying.
pub fn signed_transfers(count: usize, senders: usize) -> Vec<TxEnvelope> {
    let keys = sender_keys(senders);
    (0..count)
        .into_par_iter()
        .map(|i| {
            let key = &keys[i % senders];
            let tip = 1 + (i as u128 * 7919) % 100;
            let tx = TxEip1559 {
                chain_id: CHAIN_ID,
                nonce: (i / senders) as u64,
                gas_limit: 21_000,
                max_fee_per_gas: 1_000 + tip,
                max_priority_fee_per_gas: tip,
                to: TxKind::Call(Address::repeat_byte(0x42)),
                value: U256::from(1),
                access_list: Default::default(),
                input: Bytes::new(),
            };
            let signature = key.sign_hash_sync(&tx.signature_hash()).expect("signing");
            TxEnvelope::Eip1559(tx.into_signed(signature))
        })
        .collect()
}

/// Figures of one insertion run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InsertReport {
    pub transactions: usize,
    pub senders: usize,
    /// Senders recovered beforehand: stateless checks + pool insertion only.
    pub recovered_per_second: f64,
    /// Signature recovery (parallel) + stateless checks + insertion.
    pub with_recovery_per_second: f64,
    /// Time to take a 30M-gas block's worth of best transactions, in microseconds.
    pub best_block_us: f64,
    pub pending: usize,
}

/// Inserts `count` transfers from `senders` accounts into a fresh pool, both ways.
pub fn bench_insert(count: usize, senders: usize) -> Result<InsertReport, BenchError> {
    let txs = signed_transfers(count, senders);
    let validator = validator();
    // Senders recovered beforehand (as for reinjected or journaled transactions).
    let recovered: Vec<RecoveredTx> = txs
        .par_iter()
        .map(|tx| RecoveredTx::recover(tx.clone(), 0))
        .collect::<Result<_, _>>()
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut pool = roomy_pool(count);
    let started = Instant::now();
    for chunk in recovered.chunks(1024) {
        let checked: Vec<PoolTx> =
            chunk.iter().filter_map(|tx| validator.validate_recovered(tx.clone()).ok()).collect();
        pool.add(checked);
    }
    let recovered_per_second = count as f64 / started.elapsed().as_secs_f64();
    let pending = pool.status().pending;
    if pending != count {
        return Err(BenchError::Setup(format!("{pending} of {count} transactions pending")));
    }
    let started = Instant::now();
    let mut gas = 0u64;
    let mut best = pool.best(1);
    while gas + 21_000 <= GAS_LIMIT {
        let Some(tx) = best.next() else { break };
        gas += tx.gas;
    }
    let best_block_us = started.elapsed().as_secs_f64() * 1e6;
    drop(best);
    drop(pool);

    let mut pool = roomy_pool(count);
    let started = Instant::now();
    for chunk in txs.chunks(1024) {
        let checked: Vec<PoolTx> =
            chunk.par_iter().filter_map(|tx| validator.validate(tx.clone()).ok()).collect();
        pool.add(checked);
    }
    let with_recovery_per_second = count as f64 / started.elapsed().as_secs_f64();
    Ok(InsertReport {
        transactions: count,
        senders,
        recovered_per_second,
        with_recovery_per_second,
        best_block_us,
        pending,
    })
}

/// Memory the pool takes per transaction: resident memory with `count` pooled transactions (the pool holding
/// the only copies) minus before, per transaction; and the part beyond the transaction itself (its in-memory
/// envelope: `size_of::<TxEnvelope>()` plus its calldata). Run it first in a fresh process: memory freed by
/// earlier work would be reused without showing in the resident size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemoryReport {
    pub transactions: usize,
    pub bytes_per_transaction: f64,
    pub transaction_bytes: f64,
    pub overhead_per_transaction: f64,
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

pub fn bench_memory(count: usize, senders: usize) -> Result<MemoryReport, BenchError> {
    let before = rss_bytes();
    let txs = signed_transfers(count, senders);
    let own: usize = txs
        .iter()
        .map(|t| std::mem::size_of::<TxEnvelope>() + alloy_consensus::Transaction::input(t).len())
        .sum();
    let validator = validator();
    let mut pool = roomy_pool(count);
    // Move the transactions into the pool so it holds the only copies.
    let mut txs = txs;
    while !txs.is_empty() {
        let take = txs.len().min(1024);
        let chunk: Vec<TxEnvelope> = txs.drain(txs.len() - take..).collect();
        let checked: Vec<PoolTx> = chunk.into_iter().filter_map(|tx| validator.validate(tx).ok()).collect();
        pool.add(checked);
    }
    txs.shrink_to_fit();
    let after = rss_bytes();
    let pooled = pool.len();
    let per = after.saturating_sub(before) as f64 / pooled.max(1) as f64;
    let own = own as f64 / count as f64;
    Ok(MemoryReport {
        transactions: pooled,
        bytes_per_transaction: per,
        transaction_bytes: own,
        overhead_per_transaction: per - own,
    })
}

/// A transaction as eth_sendRawTransaction takes it.
pub fn raw_hex(tx: &TxEnvelope) -> String {
    format!("0x{}", alloy_primitives::hex::encode(tx.encoded_2718()))
}
