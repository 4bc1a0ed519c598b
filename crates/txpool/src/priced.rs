//! [`PricedList`]: go-ethereum's two price heaps over all pooled transactions, used to find the cheapest ones
//! when the pool is full. The *urgent* heap orders by effective tip at the next base fee, the *floating* heap by
//! fee cap (what a transaction pays if the base fee moves); eviction keeps them at 4:1. Removed transactions stay
//! in the heaps as stale entries until popped or a re-heap, which runs once a quarter of the entries are stale.

use crate::PooledTx;
use alloy_primitives::B256;
use std::{cmp::Ordering, collections::HashMap};

const URGENT_RATIO: usize = 4;
const FLOATING_RATIO: usize = 1;

/// A binary min-heap with go-ethereum's `container/heap` algorithms, so ties resolve as in geth.
#[derive(Debug, Default, Clone)]
struct PriceHeap {
    /// `Some`: compare effective tips at this base fee first.
    base_fee: Option<u64>,
    list: Vec<PooledTx>,
}

impl PriceHeap {
    fn cmp(&self, a: &PooledTx, b: &PooledTx) -> Ordering {
        if let Some(base_fee) = self.base_fee {
            let c = a.effective_tip(base_fee).cmp(&b.effective_tip(base_fee));
            if c != Ordering::Equal {
                return c;
            }
        }
        a.fee_cap.cmp(&b.fee_cap).then(a.tip_cap.cmp(&b.tip_cap))
    }

    fn less(&self, i: usize, j: usize) -> bool {
        match self.cmp(&self.list[i], &self.list[j]) {
            Ordering::Less => true,
            Ordering::Greater => false,
            // Equal prices: the higher nonce is the cheaper one to lose.
            Ordering::Equal => self.list[i].nonce > self.list[j].nonce,
        }
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if i == j || !self.less(j, i) {
                break;
            }
            self.list.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, i0: usize, n: usize) -> bool {
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.less(j2, j1) {
                j = j2;
            }
            if !self.less(j, i) {
                break;
            }
            self.list.swap(i, j);
            i = j;
        }
        i > i0
    }

    fn init(&mut self) {
        let n = self.list.len();
        for i in (0..n / 2).rev() {
            self.down(i, n);
        }
    }

    fn push(&mut self, tx: PooledTx) {
        self.list.push(tx);
        self.up(self.list.len() - 1);
    }

    fn pop(&mut self) -> Option<PooledTx> {
        let n = self.list.len().checked_sub(1)?;
        self.list.swap(0, n);
        self.down(0, n);
        self.list.pop()
    }

    fn len(&self) -> usize {
        self.list.len()
    }
}

/// The pool's price index (see the module docs).
#[derive(Debug, Default, Clone)]
pub(crate) struct PricedList {
    stales: usize,
    urgent: PriceHeap,
    floating: PriceHeap,
}

impl PricedList {
    pub(crate) fn new(base_fee: u64) -> Self {
        Self {
            stales: 0,
            urgent: PriceHeap { base_fee: Some(base_fee), list: Vec::new() },
            floating: PriceHeap::default(),
        }
    }

    pub(crate) fn put(&mut self, tx: PooledTx) {
        self.urgent.push(tx);
    }

    /// `count` transactions left the pool; re-heap once a quarter of the entries are stale.
    pub(crate) fn removed(&mut self, count: usize, all: &HashMap<B256, PooledTx>) {
        self.stales += count;
        if self.stales <= (self.urgent.len() + self.floating.len()) / 4 {
            return;
        }
        self.reheap(all);
    }

    fn underpriced_for(
        heap: &mut PriceHeap,
        stales: &mut usize,
        tx: &PooledTx,
        all: &HashMap<B256, PooledTx>,
    ) -> bool {
        while let Some(head) = heap.list.first() {
            if all.contains_key(&head.hash()) {
                break;
            }
            *stales = stales.saturating_sub(1);
            heap.pop();
        }
        match heap.list.first() {
            None => false,
            Some(cheapest) => heap.cmp(cheapest, tx) != Ordering::Less,
        }
    }

    /// Whether `tx` pays no more than the cheapest pooled transaction in both heaps.
    pub(crate) fn underpriced(&mut self, tx: &PooledTx, all: &HashMap<B256, PooledTx>) -> bool {
        let urgent =
            Self::underpriced_for(&mut self.urgent, &mut self.stales, tx, all) || self.urgent.len() == 0;
        let floating =
            Self::underpriced_for(&mut self.floating, &mut self.stales, tx, all) || self.floating.len() == 0;
        urgent && floating && (self.urgent.len() != 0 || self.floating.len() != 0)
    }

    /// Picks the cheapest transactions freeing at least `slots` slots. On failure nothing is dropped (the picks
    /// go back into the urgent heap).
    pub(crate) fn discard(
        &mut self,
        mut slots: isize,
        all: &HashMap<B256, PooledTx>,
    ) -> Option<Vec<PooledTx>> {
        let mut drop = Vec::new();
        while slots > 0 {
            if self.urgent.len() * FLOATING_RATIO > self.floating.len() * URGENT_RATIO {
                let Some(tx) = self.urgent.pop() else { break };
                if !all.contains_key(&tx.hash()) {
                    self.stales = self.stales.saturating_sub(1);
                    continue;
                }
                self.floating.push(tx);
            } else {
                let Some(tx) = self.floating.pop() else { break };
                if !all.contains_key(&tx.hash()) {
                    self.stales = self.stales.saturating_sub(1);
                    continue;
                }
                slots -= tx.slots() as isize;
                drop.push(tx);
            }
        }
        if slots > 0 {
            for tx in drop {
                self.urgent.push(tx);
            }
            return None;
        }
        Some(drop)
    }

    /// Rebuilds both heaps from the pool's transactions, the cheapest fifth going to the floating heap.
    pub(crate) fn reheap(&mut self, all: &HashMap<B256, PooledTx>) {
        self.stales = 0;
        let mut list: Vec<PooledTx> = all.values().cloned().collect();
        // Deterministic input order (geth ranges over a map; keel does not depend on map order).
        list.sort_unstable_by_key(|tx| tx.hash());
        self.urgent.list = list;
        self.urgent.init();
        let floating = self.urgent.len() * FLOATING_RATIO / (URGENT_RATIO + FLOATING_RATIO);
        self.floating.list = (0..floating).filter_map(|_| self.urgent.pop()).collect();
        self.floating.init();
    }

    /// The base fee of the next block changed: re-order the urgent heap.
    pub(crate) fn set_base_fee(&mut self, base_fee: u64, all: &HashMap<B256, PooledTx>) {
        self.urgent.base_fee = Some(base_fee);
        self.reheap(all);
    }

    /// Entries in both heaps (stale ones included).
    pub(crate) fn heap_len(&self) -> usize {
        self.urgent.len() + self.floating.len()
    }

    pub(crate) fn stales(&self) -> usize {
        self.stales
    }
}
