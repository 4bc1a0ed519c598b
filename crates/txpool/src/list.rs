//! [`TxList`]: one account's transactions by nonce (go-ethereum's `list`), pending (strict) or queued.

use crate::PooledTx;
use alloy_primitives::U256;
use std::collections::BTreeMap;

/// One account's transactions, sorted by nonce. In a strict (pending) list, removing a transaction also removes
/// (and returns) every later one, as they can no longer execute.
#[derive(Debug, Clone)]
pub(crate) struct TxList {
    strict: bool,
    txs: BTreeMap<u64, PooledTx>,
    /// Highest cost seen since the last filter: a filter with a balance at least this high has nothing to do.
    costcap: U256,
    /// Highest gas limit seen since the last filter.
    gascap: u64,
    /// Sum of the costs of the listed transactions.
    totalcost: U256,
}

impl TxList {
    pub(crate) fn new(strict: bool) -> Self {
        Self { strict, txs: BTreeMap::new(), costcap: U256::ZERO, gascap: 0, totalcost: U256::ZERO }
    }

    pub(crate) fn len(&self) -> usize {
        self.txs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub(crate) fn contains(&self, nonce: u64) -> bool {
        self.txs.contains_key(&nonce)
    }

    pub(crate) fn get(&self, nonce: u64) -> Option<&PooledTx> {
        self.txs.get(&nonce)
    }

    pub(crate) fn total_cost(&self) -> U256 {
        self.totalcost
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &PooledTx> {
        self.txs.values()
    }

    pub(crate) fn last(&self) -> Option<&PooledTx> {
        self.txs.values().next_back()
    }

    /// Inserts `tx`, or replaces the transaction with its nonce if `tx` raises both the fee cap and the tip
    /// strictly and by at least `price_bump` percent (rounded down). Returns whether it went in, and what it
    /// replaced.
    pub(crate) fn add(&mut self, tx: PooledTx, price_bump: u64) -> (bool, Option<PooledTx>) {
        if let Some(old) = self.txs.get(&tx.nonce) {
            if old.fee_cap >= tx.fee_cap || old.tip_cap >= tx.tip_cap {
                return (false, None);
            }
            let bump = |v: u128| U256::from(v) * U256::from(100 + price_bump) / U256::from(100);
            if U256::from(tx.fee_cap) < bump(old.fee_cap) || U256::from(tx.tip_cap) < bump(old.tip_cap) {
                return (false, None);
            }
            self.totalcost -= old.cost;
        }
        self.totalcost += tx.cost;
        self.costcap = self.costcap.max(tx.cost);
        self.gascap = self.gascap.max(tx.gas);
        let old = self.txs.insert(tx.nonce, tx);
        (true, old)
    }

    fn take(&mut self, nonces: Vec<u64>) -> Vec<PooledTx> {
        let removed: Vec<PooledTx> = nonces.into_iter().filter_map(|n| self.txs.remove(&n)).collect();
        for tx in &removed {
            self.totalcost -= tx.cost;
        }
        removed
    }

    /// Removes every transaction with a nonce below `threshold`.
    pub(crate) fn forward(&mut self, threshold: u64) -> Vec<PooledTx> {
        let keep = self.txs.split_off(&threshold);
        let removed: Vec<PooledTx> = std::mem::replace(&mut self.txs, keep).into_values().collect();
        for tx in &removed {
            self.totalcost -= tx.cost;
        }
        removed
    }

    /// Removes every transaction costing more than `cost_limit` or using more gas than `gas_limit`; in a
    /// strict list also every transaction after the lowest removed one. Returns (removed, invalidated).
    pub(crate) fn filter(&mut self, cost_limit: U256, gas_limit: u64) -> (Vec<PooledTx>, Vec<PooledTx>) {
        if self.costcap <= cost_limit && self.gascap <= gas_limit {
            return (Vec::new(), Vec::new());
        }
        self.costcap = cost_limit;
        self.gascap = gas_limit;
        let nonces =
            self.txs.values().filter(|tx| tx.gas > gas_limit || tx.cost > cost_limit).map(|tx| tx.nonce);
        let removed = self.take(nonces.collect());
        let mut invalids = Vec::new();
        if self.strict {
            if let Some(lowest) = removed.iter().map(|tx| tx.nonce).min() {
                invalids = self.take(self.txs.range(lowest + 1..).map(|(n, _)| *n).collect());
            }
        }
        (removed, invalids)
    }

    /// A strict list's transactions from the point where their running cost exceeds `balance` (keel, not geth:
    /// geth checks each transaction alone, so a batch can together overdraw the account).
    pub(crate) fn overdrawn(&mut self, balance: U256) -> Vec<PooledTx> {
        if self.totalcost <= balance {
            return Vec::new();
        }
        let mut running = U256::ZERO;
        let first = self.txs.values().find(|tx| {
            running = running.saturating_add(tx.cost);
            running > balance
        });
        match first.map(|tx| tx.nonce) {
            Some(from) => self.take(self.txs.range(from..).map(|(n, _)| *n).collect()),
            None => Vec::new(),
        }
    }

    /// Keeps the `threshold` lowest nonces; removes and returns the rest.
    pub(crate) fn cap(&mut self, threshold: usize) -> Vec<PooledTx> {
        if self.txs.len() <= threshold {
            return Vec::new();
        }
        let drop: Vec<u64> = self.txs.keys().skip(threshold).copied().collect();
        let mut removed = self.take(drop);
        // Highest nonce first, as geth's heap pops them.
        removed.reverse();
        removed
    }

    /// Removes the transaction with `nonce`; in a strict list also every later one (returned).
    pub(crate) fn remove(&mut self, nonce: u64) -> (bool, Vec<PooledTx>) {
        let Some(tx) = self.txs.remove(&nonce) else { return (false, Vec::new()) };
        self.totalcost -= tx.cost;
        if self.strict {
            let later = self.take(self.txs.range(nonce + 1..).map(|(n, _)| *n).collect());
            return (true, later);
        }
        (true, Vec::new())
    }

    /// Removes and returns the run of consecutive nonces starting at the lowest one, if the lowest is at most
    /// `start`.
    pub(crate) fn ready(&mut self, start: u64) -> Vec<PooledTx> {
        let Some(&first) = self.txs.keys().next() else { return Vec::new() };
        if first > start {
            return Vec::new();
        }
        let mut next = first;
        let mut ready = Vec::new();
        while let Some(tx) = self.txs.remove(&next) {
            self.totalcost -= tx.cost;
            ready.push(tx);
            next += 1;
        }
        ready
    }
}
