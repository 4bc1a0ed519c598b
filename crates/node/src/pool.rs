//! A minimal transaction pool for the dev node: transactions per sender by nonce, replacement with a 10% price
//! bump, and block candidates ordered by tip. The full geth-semantics pool (queued/pending limits, eviction,
//! journal, reorg handling) is its own crate; this one is what the node needs until then.

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};
use keel_evm::RecoveredTx;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// Why the pool refused a transaction (geth's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("already known")]
    AlreadyKnown,
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
}

/// Pending transactions by sender and nonce.
#[derive(Debug, Default)]
pub struct Pool {
    by_sender: HashMap<Address, BTreeMap<u64, RecoveredTx>>,
    by_hash: HashMap<B256, (Address, u64)>,
}

/// geth: a replacement must raise both the fee cap and the tip by at least 10%.
const PRICE_BUMP_PERCENT: u128 = 10;

fn bumped(old: u128) -> u128 {
    old + old * PRICE_BUMP_PERCENT / 100
}

impl Pool {
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    pub fn get(&self, hash: &B256) -> Option<&RecoveredTx> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce)
    }

    /// The highest nonce + 1 the sender has in the pool, if any.
    pub fn next_nonce(&self, sender: Address) -> Option<u64> {
        self.by_sender.get(&sender)?.keys().next_back().map(|n| n + 1)
    }

    /// Adds `tx`, replacing a transaction with the same sender and nonce if it pays at least 10% more.
    pub fn add(&mut self, tx: RecoveredTx) -> Result<Option<B256>, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let nonce = tx.tx.nonce();
        let slot = self.by_sender.entry(tx.sender).or_default();
        let replaced = match slot.get(&nonce) {
            Some(old) => {
                let fee_ok = tx.tx.max_fee_per_gas() >= bumped(old.tx.max_fee_per_gas());
                let tip_ok = tx.tx.max_priority_fee_per_gas().unwrap_or(tx.tx.max_fee_per_gas())
                    >= bumped(old.tx.max_priority_fee_per_gas().unwrap_or(old.tx.max_fee_per_gas()));
                if !(fee_ok && tip_ok) {
                    return Err(PoolError::ReplacementUnderpriced);
                }
                Some(old.hash)
            }
            None => None,
        };
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        self.by_hash.insert(tx.hash, (tx.sender, nonce));
        slot.insert(nonce, tx);
        Ok(replaced)
    }

    /// Removes a transaction by hash.
    pub fn remove(&mut self, hash: &B256) -> Option<RecoveredTx> {
        let (sender, nonce) = self.by_hash.remove(hash)?;
        let txs = self.by_sender.get_mut(&sender)?;
        let tx = txs.remove(&nonce);
        if txs.is_empty() {
            self.by_sender.remove(&sender);
        }
        tx
    }

    /// Drops every transaction of `sender` with a nonce below `next` (mined or made stale).
    pub fn prune(&mut self, sender: Address, next: u64) {
        let Some(txs) = self.by_sender.get_mut(&sender) else { return };
        let keep = txs.split_off(&next);
        for tx in txs.values() {
            self.by_hash.remove(&tx.hash);
        }
        *txs = keep;
        if txs.is_empty() {
            self.by_sender.remove(&sender);
        }
    }

    /// Senders with transactions in the pool.
    pub fn senders(&self) -> impl Iterator<Item = Address> + '_ {
        self.by_sender.keys().copied()
    }

    /// All transactions, by sender then nonce.
    pub fn all(&self) -> impl Iterator<Item = &RecoveredTx> {
        self.by_sender.values().flat_map(|txs| txs.values())
    }

    /// Candidates for the next block: for each sender, the run of consecutive nonces starting at its state nonce
    /// (`state_nonce(sender)`), merged across senders by effective tip at `base_fee` (highest first), each sender's
    /// transactions in nonce order.
    pub fn candidates(&self, base_fee: u64, mut state_nonce: impl FnMut(Address) -> u64) -> Vec<RecoveredTx> {
        let mut runs: Vec<Vec<&RecoveredTx>> = Vec::new();
        for (sender, txs) in &self.by_sender {
            let first = state_nonce(*sender);
            let mut run: Vec<&RecoveredTx> = (first..)
                .zip(txs.range(first..))
                .take_while(|(expected, (nonce, _))| expected == *nonce)
                .map(|(_, (_, tx))| tx)
                .collect();
            if !run.is_empty() {
                run.reverse(); // pop from the back = lowest nonce first
                runs.push(run);
            }
        }
        let tip = |tx: &RecoveredTx| tx.tx.effective_tip_per_gas(base_fee).unwrap_or(0);
        let mut heap: BinaryHeap<(u128, std::cmp::Reverse<usize>)> = runs
            .iter()
            .enumerate()
            .filter_map(|(i, run)| run.last().map(|tx| (tip(tx), std::cmp::Reverse(i))))
            .collect();
        let mut out = Vec::with_capacity(self.len());
        while let Some((_, std::cmp::Reverse(i))) = heap.pop() {
            if let Some(tx) = runs[i].pop() {
                out.push(tx.clone());
                if let Some(next) = runs[i].last() {
                    heap.push((tip(next), std::cmp::Reverse(i)));
                }
            }
        }
        out
    }
}
