//! [`BestTransactions`]: the order in which a block takes pending transactions.

use crate::{list::TxList, PooledTx};
use alloy_primitives::Address;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

#[derive(Debug)]
struct Head {
    tip: i128,
    seen: u64,
    sender: Address,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Higher tip first; equal tips: seen first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.tip.cmp(&other.tip).then(other.seen.cmp(&self.seen)).then(other.sender.cmp(&self.sender))
    }
}

/// Pending transactions, best effective tip at the block's base fee first, each sender's strictly in nonce
/// order (geth's `TransactionsByPriceAndNonce`). Transactions whose fee cap is below the base fee are left out,
/// with their sender's later ones.
#[derive(Debug)]
pub struct BestTransactions {
    base_fee: u64,
    heads: BinaryHeap<Head>,
    rest: BTreeMap<Address, VecDeque<PooledTx>>,
}

impl BestTransactions {
    pub(crate) fn new(pending: &BTreeMap<Address, TxList>, base_fee: u64) -> Self {
        let mut best = Self { base_fee, heads: BinaryHeap::new(), rest: BTreeMap::new() };
        for (sender, list) in pending {
            let txs: VecDeque<PooledTx> =
                list.iter().take_while(|tx| tx.fee_cap >= u128::from(base_fee)).cloned().collect();
            if !txs.is_empty() {
                best.rest.insert(*sender, txs);
                best.push_head(*sender);
            }
        }
        best
    }

    fn push_head(&mut self, sender: Address) {
        if let Some(tx) = self.rest.get(&sender).and_then(|q| q.front()) {
            self.heads.push(Head { tip: tx.effective_tip(self.base_fee), seen: tx.seen, sender });
        }
    }

    /// The sender's transaction failed (or does not fit): skip the rest of its transactions.
    pub fn mark_invalid(&mut self, sender: Address) {
        self.rest.remove(&sender);
    }
}

impl Iterator for BestTransactions {
    type Item = PooledTx;

    fn next(&mut self) -> Option<PooledTx> {
        loop {
            let head = self.heads.pop()?;
            let Some(queue) = self.rest.get_mut(&head.sender) else { continue };
            let Some(tx) = queue.pop_front() else { continue };
            if queue.is_empty() {
                self.rest.remove(&head.sender);
            } else {
                self.push_head(head.sender);
            }
            return Some(tx);
        }
    }
}
