//! [`Pool`]: go-ethereum's legacy pool — pending and queued transactions per sender, replacement, limits,
//! eviction, and the reorganisation that runs on every new head.

use crate::{
    list::TxList, priced::PricedList, Clock, PoolConfig, PoolError, PoolTx, PooledTx, Shortfall, Validator,
};
use alloy_primitives::{Address, B256, U256};
use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

/// The pool's view of account state at the head.
pub trait AccountState: Send + Sync {
    fn nonce(&self, address: Address) -> u64;
    fn balance(&self, address: Address) -> U256;
    /// Nonce and balance together: one read where a state looks the account up per call.
    fn nonce_and_balance(&self, address: Address) -> (u64, U256) {
        (self.nonce(address), self.balance(address))
    }
}

/// What the pool needs to know about the chain head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolHead {
    pub number: u64,
    pub gas_limit: u64,
    /// Base fee of the next block.
    pub base_fee: u64,
}

/// How an accepted transaction entered the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub hash: B256,
    /// The transaction with the same sender and nonce it replaced.
    pub replaced: Option<B256>,
}

/// The result of adding a batch.
#[derive(Debug, Default)]
pub struct AddReport {
    /// One result per transaction, in order.
    pub results: Vec<Result<Added, PoolError>>,
    /// Transactions that became executable (pending) because of this batch: promoted from the queue, or
    /// replacing a pending transaction (geth announces both), in sender and nonce order.
    pub promoted: Vec<PooledTx>,
}

/// Pending and queued counts (txpool_status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    pub pending: usize,
    pub queued: usize,
}

/// go-ethereum's transaction pool semantics (see the crate docs).
pub struct Pool {
    config: PoolConfig,
    validator: Validator,
    head: PoolHead,
    state: Arc<dyn AccountState>,
    pending: BTreeMap<Address, TxList>,
    queue: BTreeMap<Address, TxList>,
    /// Last activity of each account with queued transactions.
    beats: HashMap<Address, Duration>,
    all: HashMap<B256, PooledTx>,
    all_slots: usize,
    priced: PricedList,
    /// The next nonce after each account's pending transactions (absent: the state nonce).
    pending_nonces: HashMap<Address, u64>,
    changes_since_reorg: usize,
    clock: Arc<dyn Clock>,
    next_seen: u64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("head", &self.head)
            .field("pending", &self.pending.values().map(TxList::len).sum::<usize>())
            .field("queued", &self.queue.values().map(TxList::len).sum::<usize>())
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub fn new(
        config: PoolConfig,
        validator: Validator,
        head: PoolHead,
        state: Arc<dyn AccountState>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let config = config.sanitized();
        let validator = Validator { gas_limit: head.gas_limit, min_tip: config.price_limit, ..validator };
        Self {
            priced: PricedList::new(head.base_fee),
            config,
            validator,
            head,
            state,
            pending: BTreeMap::new(),
            queue: BTreeMap::new(),
            beats: HashMap::new(),
            all: HashMap::new(),
            all_slots: 0,
            pending_nonces: HashMap::new(),
            changes_since_reorg: 0,
            clock,
            next_seen: 0,
        }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The stateless checks, to run outside the pool's lock.
    pub fn validator(&self) -> Validator {
        self.validator.clone()
    }

    pub fn head(&self) -> PoolHead {
        self.head
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Slots taken by all pooled transactions.
    pub fn slots(&self) -> usize {
        self.all_slots
    }

    pub fn status(&self) -> PoolStatus {
        PoolStatus {
            pending: self.pending.values().map(TxList::len).sum(),
            queued: self.queue.values().map(TxList::len).sum(),
        }
    }

    pub fn get(&self, hash: &B256) -> Option<&PooledTx> {
        self.all.get(hash)
    }

    /// Whether `hash` is pending (executable) rather than queued.
    pub fn is_pending(&self, hash: &B256) -> bool {
        self.all.get(hash).is_some_and(|tx| {
            self.pending.get(&tx.sender()).and_then(|l| l.get(tx.nonce)).is_some_and(|p| p.hash() == *hash)
        })
    }

    /// Pending transactions by sender, in nonce order.
    pub fn pending(&self) -> BTreeMap<Address, Vec<PooledTx>> {
        self.pending.iter().map(|(a, l)| (*a, l.iter().cloned().collect())).collect()
    }

    /// Queued transactions by sender, in nonce order.
    pub fn queued(&self) -> BTreeMap<Address, Vec<PooledTx>> {
        self.queue.iter().map(|(a, l)| (*a, l.iter().cloned().collect())).collect()
    }

    /// One sender's (pending, queued) transactions.
    pub fn content_from(&self, address: Address) -> (Vec<PooledTx>, Vec<PooledTx>) {
        let of = |m: &BTreeMap<Address, TxList>| {
            m.get(&address).map(|l| l.iter().cloned().collect()).unwrap_or_default()
        };
        (of(&self.pending), of(&self.queue))
    }

    /// The nonce the sender's next transaction should have: after its pending ones.
    pub fn pending_nonce(&self, address: Address) -> u64 {
        self.pending_nonces.get(&address).copied().unwrap_or_else(|| self.state.nonce(address))
    }

    fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Checks against the head state (geth's `ValidateTransactionWithState`).
    fn validate_with_state(&self, tx: &PoolTx) -> Result<(), PoolError> {
        let from = tx.sender();
        let (next, balance) = self.state.nonce_and_balance(from);
        if next > tx.nonce {
            return Err(PoolError::NonceTooLow { next, nonce: tx.nonce });
        }
        if balance < tx.cost {
            let overshot = tx.cost - balance;
            return Err(PoolError::InsufficientFunds(Box::new(Shortfall {
                balance,
                queued: None,
                cost: tx.cost,
                overshot,
            })));
        }
        let list = self.pending.get(&from);
        let spent = list.map_or(U256::ZERO, TxList::total_cost);
        let need = match list.and_then(|l| l.get(tx.nonce)) {
            Some(prev) => (spent + tx.cost).saturating_sub(prev.cost),
            None => spent + tx.cost,
        };
        if balance < need {
            let overshot = need - balance;
            return Err(PoolError::InsufficientFunds(Box::new(Shortfall {
                balance,
                queued: Some(spent),
                cost: tx.cost,
                overshot,
            })));
        }
        Ok(())
    }

    /// Adds validated transactions (geth's `Add`): each is checked against the state and inserted; then the
    /// senders' queues are promoted and the pool truncated to its limits. Like geth's reorganisation run after
    /// each batch, this ends the churn throttle's window.
    pub fn add(&mut self, txs: Vec<PoolTx>) -> AddReport {
        let mut report = AddReport::default();
        let mut dirty = Vec::new();
        // geth's event set: one transaction per sender and nonce, the latest winning.
        let mut announced: BTreeMap<(Address, u64), PooledTx> = BTreeMap::new();
        for tx in txs {
            let sender = tx.sender();
            let result = self.add_one(tx);
            if let Ok(added) = &result {
                dirty.push(sender);
                // Only a replacement goes straight into a pending list; geth announces it at once.
                if self.is_pending(&added.hash) {
                    if let Some(tx) = self.all.get(&added.hash) {
                        announced.insert((sender, tx.nonce), tx.clone());
                    }
                }
            }
            report.results.push(result);
        }
        dirty.sort_unstable();
        dirty.dedup();
        for tx in self.promote_executables(&dirty) {
            announced.insert((tx.sender(), tx.nonce), tx);
        }
        report.promoted = announced.into_values().collect();
        self.truncate_pending();
        self.truncate_queue();
        self.changes_since_reorg = 0;
        report
    }

    fn add_one(&mut self, mut tx: PoolTx) -> Result<Added, PoolError> {
        let hash = tx.hash();
        if self.all.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        self.validate_with_state(&tx)?;
        tx.seen = self.next_seen;
        self.next_seen += 1;
        let tx: PooledTx = Arc::new(tx);
        let from = tx.sender();
        let capacity = (self.config.global_slots + self.config.global_queue) as usize;
        if self.all_slots + tx.slots() > capacity {
            if self.priced.underpriced(&tx, &self.all) {
                return Err(PoolError::Underpriced);
            }
            // Cap replacements between reorganisations at a quarter of the slots (churn throttle).
            if self.changes_since_reorg > (self.config.global_slots / 4) as usize {
                return Err(PoolError::PoolOverflow);
            }
            let need = self.all_slots as isize - capacity as isize + tx.slots() as isize;
            let Some(drop) = self.priced.discard(need, &self.all) else {
                return Err(PoolError::PoolOverflow);
            };
            // A gapped newcomer may never push out an executable transaction.
            if self.is_gapped(from, &tx) {
                let replaces_pending = drop.iter().any(|d| {
                    self.pending
                        .get(&d.sender())
                        .and_then(|l| l.get(d.nonce))
                        .is_some_and(|p| p.hash() == d.hash())
                });
                if replaces_pending {
                    for d in drop {
                        self.priced.put(d);
                    }
                    return Err(PoolError::FutureReplacePending);
                }
            }
            for d in drop {
                self.changes_since_reorg += 1;
                self.remove_tx(d.hash(), false);
            }
        }
        // Replacing a pending transaction?
        if let Some(list) = self.pending.get_mut(&from) {
            if list.contains(tx.nonce) {
                let (inserted, old) = list.add(tx.clone(), self.config.price_bump);
                if !inserted {
                    return Err(PoolError::ReplaceUnderpriced);
                }
                let replaced = old.map(|old| {
                    self.forget(&old.hash());
                    self.priced.removed(1, &self.all);
                    old.hash()
                });
                self.remember(tx.clone());
                self.priced.put(tx);
                self.beats.insert(from, self.now());
                return Ok(Added { hash, replaced });
            }
        }
        let replaced = self.enqueue(tx, true)?;
        Ok(Added { hash, replaced })
    }

    fn remember(&mut self, tx: PooledTx) {
        self.all_slots += tx.slots();
        self.all.insert(tx.hash(), tx);
    }

    fn forget(&mut self, hash: &B256) -> Option<PooledTx> {
        let tx = self.all.remove(hash)?;
        self.all_slots -= tx.slots();
        Some(tx)
    }

    /// Whether `tx` would leave a nonce gap that the sender's queue does not fill.
    fn is_gapped(&self, from: Address, tx: &PoolTx) -> bool {
        let next = self.pending_nonce(from);
        if tx.nonce <= next {
            return false;
        }
        match self.queue.get(&from) {
            None => true,
            Some(queue) => (next..tx.nonce).any(|n| !queue.contains(n)),
        }
    }

    /// Puts `tx` into its sender's queue (geth's `enqueueTx`). With `add_all`, it is new to the pool's indexes.
    fn enqueue(&mut self, tx: PooledTx, add_all: bool) -> Result<Option<B256>, PoolError> {
        let from = tx.sender();
        let list = self.queue.entry(from).or_insert_with(|| TxList::new(false));
        let (inserted, old) = list.add(tx.clone(), self.config.price_bump);
        if !inserted {
            if list.is_empty() {
                self.queue.remove(&from);
            }
            return Err(PoolError::ReplaceUnderpriced);
        }
        let replaced = old.map(|old| {
            self.forget(&old.hash());
            self.priced.removed(1, &self.all);
            old.hash()
        });
        if add_all {
            self.remember(tx.clone());
            self.priced.put(tx);
        }
        let now = self.now();
        self.beats.entry(from).or_insert(now);
        Ok(replaced)
    }

    /// Moves a transaction that left a pending list back to the queue; if a better one holds its nonce there,
    /// it leaves the pool.
    fn requeue(&mut self, tx: PooledTx) {
        let hash = tx.hash();
        if self.enqueue(tx, false).is_err() {
            self.forget(&hash);
            self.priced.removed(1, &self.all);
        }
    }

    /// Moves `tx` into its sender's pending list (geth's `promoteTx`).
    fn promote(&mut self, tx: PooledTx) -> bool {
        let from = tx.sender();
        let list = self.pending.entry(from).or_insert_with(|| TxList::new(true));
        let (inserted, old) = list.add(tx.clone(), self.config.price_bump);
        if !inserted {
            // An older transaction with this nonce is better: drop the newcomer.
            self.forget(&tx.hash());
            self.priced.removed(1, &self.all);
            return false;
        }
        if let Some(old) = old {
            self.forget(&old.hash());
            self.priced.removed(1, &self.all);
        }
        self.pending_nonces.insert(from, tx.nonce + 1);
        self.beats.insert(from, self.now());
        true
    }

    /// Removes a transaction (geth's `removeTx`); a pending one's followers are moved back to the queue.
    /// `outofbound`: the price heaps still hold it. Returns how many transactions left pending.
    fn remove_tx(&mut self, hash: B256, outofbound: bool) -> usize {
        let Some(tx) = self.forget(&hash) else { return 0 };
        let from = tx.sender();
        if outofbound {
            self.priced.removed(1, &self.all);
        }
        if let Some(pending) = self.pending.get_mut(&from) {
            if pending.get(tx.nonce).is_some_and(|p| p.hash() == hash) {
                let (_, invalids) = pending.remove(tx.nonce);
                if pending.is_empty() {
                    self.pending.remove(&from);
                }
                let demoted = invalids.len();
                for invalid in invalids {
                    self.requeue(invalid);
                }
                self.set_nonce_if_lower(from, tx.nonce);
                return 1 + demoted;
            }
        }
        if let Some(queue) = self.queue.get_mut(&from) {
            if queue.get(tx.nonce).is_some_and(|q| q.hash() == hash) {
                queue.remove(tx.nonce);
                if queue.is_empty() {
                    self.queue.remove(&from);
                    self.beats.remove(&from);
                }
            }
        }
        0
    }

    fn set_nonce_if_lower(&mut self, address: Address, nonce: u64) {
        let current = self.pending_nonce(address);
        if current > nonce {
            self.pending_nonces.insert(address, nonce);
        }
    }

    /// Moves the executable transactions of `accounts` from queued to pending, dropping stale, unaffordable and
    /// over-limit ones (geth's `promoteExecutables`). A run of transactions that together cost more than the
    /// balance is only promoted as far as the balance reaches.
    fn promote_executables(&mut self, accounts: &[Address]) -> Vec<PooledTx> {
        let mut promoted = Vec::new();
        for &address in accounts {
            let Some(mut list) = self.queue.remove(&address) else { continue };
            let (nonce, balance) = self.state.nonce_and_balance(address);
            let forwards = list.forward(nonce);
            let (drops, _) = list.filter(balance, self.head.gas_limit);
            for tx in forwards.iter().chain(&drops) {
                self.forget(&tx.hash());
            }
            let readies = list.ready(self.pending_nonce(address));
            let mut spent = self.pending.get(&address).map_or(U256::ZERO, TxList::total_cost);
            let mut readies = readies.into_iter();
            for tx in readies.by_ref() {
                if spent + tx.cost > balance {
                    // Stays queued until the balance covers it (keel: geth would promote the overdraft).
                    list.add(tx, self.config.price_bump);
                    break;
                }
                spent += tx.cost;
                if self.promote(tx.clone()) {
                    promoted.push(tx);
                }
            }
            for tx in readies {
                list.add(tx, self.config.price_bump);
            }
            let caps = list.cap(self.config.account_queue as usize);
            for tx in &caps {
                self.forget(&tx.hash());
            }
            self.priced.removed(forwards.len() + drops.len() + caps.len(), &self.all);
            if list.is_empty() {
                self.beats.remove(&address);
            } else {
                self.queue.insert(address, list);
            }
        }
        promoted
    }

    /// Drops transactions that are no longer valid at the head and moves those that are no longer executable
    /// back to the queue (geth's `demoteUnexecutables`).
    fn demote_unexecutables(&mut self) {
        let addresses: Vec<Address> = self.pending.keys().copied().collect();
        for address in addresses {
            let Some(mut list) = self.pending.remove(&address) else { continue };
            let (nonce, balance) = self.state.nonce_and_balance(address);
            let olds = list.forward(nonce);
            let (drops, mut invalids) = list.filter(balance, self.head.gas_limit);
            for tx in olds.iter().chain(&drops) {
                self.forget(&tx.hash());
            }
            self.priced.removed(olds.len() + drops.len(), &self.all);
            invalids.extend(list.overdrawn(balance));
            if !list.is_empty() && !list.contains(nonce) {
                // A gap at the front (should not happen): everything waits in the queue.
                invalids.extend(list.cap(0));
            }
            if !list.is_empty() {
                self.pending.insert(address, list);
            }
            for tx in invalids {
                self.requeue(tx);
            }
        }
    }

    /// Keeps pending within `global_slots`, taking from the largest senders first and never cutting one below
    /// `account_slots` (geth's `truncatePending`).
    fn truncate_pending(&mut self) {
        let mut pending: usize = self.pending.values().map(TxList::len).sum();
        let global = self.config.global_slots as usize;
        let account = self.config.account_slots as usize;
        if pending <= global {
            return;
        }
        // Spammers by pending count, largest first (ties: address order, for determinism).
        let mut spammers: Vec<(usize, Address)> =
            self.pending.iter().filter(|(_, l)| l.len() > account).map(|(a, l)| (l.len(), *a)).collect();
        spammers.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut offenders: Vec<Address> = Vec::new();
        let len = |pool: &Self, a: &Address| pool.pending.get(a).map_or(0, TxList::len);
        for (_, offender) in spammers {
            if pending <= global {
                break;
            }
            offenders.push(offender);
            if offenders.len() > 1 {
                let threshold = len(self, &offender);
                while pending > global && len(self, &offenders[offenders.len() - 2]) > threshold {
                    for &address in &offenders[..offenders.len() - 1] {
                        self.cap_pending_by_one(address);
                        pending -= 1;
                    }
                }
            }
        }
        if pending > global && !offenders.is_empty() {
            while pending > global && len(self, offenders.last().expect("non-empty")) > account {
                for &address in &offenders {
                    self.cap_pending_by_one(address);
                    pending -= 1;
                }
            }
        }
    }

    fn cap_pending_by_one(&mut self, address: Address) {
        let Some(list) = self.pending.get_mut(&address) else { return };
        let caps = list.cap(list.len().saturating_sub(1));
        for tx in &caps {
            self.forget(&tx.hash());
            self.set_nonce_if_lower(address, tx.nonce);
        }
        self.priced.removed(caps.len(), &self.all);
    }

    /// Keeps the queue within `global_queue`, dropping from the accounts idle the longest (geth's
    /// `truncateQueue`).
    fn truncate_queue(&mut self) {
        let queued: usize = self.queue.values().map(TxList::len).sum();
        let global = self.config.global_queue as usize;
        if queued <= global {
            return;
        }
        // Most recently active first, so the oldest are popped from the end.
        let mut addresses: Vec<(Duration, Address)> =
            self.queue.keys().map(|a| (self.beats.get(a).copied().unwrap_or_default(), *a)).collect();
        addresses.sort_by(|a, b| b.cmp(a));
        let mut drop = queued - global;
        while drop > 0 {
            let Some((_, address)) = addresses.pop() else { break };
            let txs: Vec<B256> =
                self.queue.get(&address).map(|l| l.iter().map(|t| t.hash()).collect()).unwrap_or_default();
            if txs.len() <= drop {
                for hash in &txs {
                    self.remove_tx(*hash, true);
                }
                drop -= txs.len();
                continue;
            }
            for hash in txs.iter().rev() {
                if drop == 0 {
                    break;
                }
                self.remove_tx(*hash, true);
                drop -= 1;
            }
        }
    }

    /// A new head (geth's reset + reorganisation): the state and limits move to `head`, the `reinject`ed
    /// transactions (from blocks a reorganisation discarded) come back, queues are promoted, pending lists
    /// demoted where no longer executable, prices re-ordered at the next base fee, and the pool truncated.
    /// Returns the transactions promoted to pending.
    pub fn reset(
        &mut self,
        head: PoolHead,
        state: Arc<dyn AccountState>,
        reinject: Vec<PoolTx>,
    ) -> Vec<PooledTx> {
        self.head = head;
        self.state = state;
        self.validator.gas_limit = head.gas_limit;
        self.pending_nonces.clear();
        for tx in reinject {
            let _ = self.add_one(tx);
        }
        // Demote first, then promote from where each pending list now ends (geth promotes first, from the state
        // nonce, so a queued transaction behind a still-pending one would wait for a later head).
        self.demote_unexecutables();
        self.pending_nonces =
            self.pending.iter().filter_map(|(a, l)| l.last().map(|t| (*a, t.nonce + 1))).collect();
        let accounts: Vec<Address> = self.queue.keys().copied().collect();
        let promoted = self.promote_executables(&accounts);
        self.priced.set_base_fee(head.base_fee, &self.all);
        self.truncate_pending();
        self.truncate_queue();
        self.changes_since_reorg = 0;
        promoted
    }

    /// Drops the queued transactions of accounts idle for longer than the lifetime (geth runs this every
    /// minute). Returns how many were dropped.
    pub fn evict_stale(&mut self) -> usize {
        let now = self.now();
        let stale: Vec<Address> = self
            .queue
            .keys()
            .filter(|a| {
                self.beats.get(*a).is_some_and(|beat| now.saturating_sub(*beat) > self.config.lifetime)
            })
            .copied()
            .collect();
        let mut dropped = 0;
        for address in stale {
            let txs: Vec<B256> =
                self.queue.get(&address).map(|l| l.iter().map(|t| t.hash()).collect()).unwrap_or_default();
            for hash in txs {
                self.remove_tx(hash, true);
                dropped += 1;
            }
        }
        dropped
    }

    /// Removes a transaction (e.g. it failed in a block); a pending one's followers go back to the queue.
    pub fn remove(&mut self, hash: B256) -> bool {
        let known = self.all.contains_key(&hash);
        self.remove_tx(hash, true);
        known
    }

    /// Raises or lowers the minimum tip (miner_setGasPrice). Raising drops the cheaper transactions and demotes
    /// their pending followers.
    pub fn set_min_tip(&mut self, tip: u128) {
        let old = self.validator.min_tip;
        self.validator.min_tip = tip;
        self.config.price_limit = tip;
        if tip > old {
            let cheap: Vec<B256> = self.all.values().filter(|t| t.tip_cap < tip).map(|t| t.hash()).collect();
            for hash in cheap {
                self.remove_tx(hash, true);
            }
            self.priced.reheap(&self.all);
        }
    }

    /// The pending transactions for a block at `base_fee`, best effective tip first, each sender's in nonce
    /// order.
    pub fn best(&self, base_fee: u64) -> crate::BestTransactions {
        crate::BestTransactions::new(&self.pending, base_fee)
    }

    /// Checks the pool's internal invariants (for tests): every transaction is indexed once, pending lists are
    /// gapless from the state nonce, the slot count and the price heaps agree with the index.
    pub fn check_invariants(&self) -> Result<(), String> {
        let status = self.status();
        if status.pending + status.queued != self.all.len() {
            return Err(format!(
                "all {} != pending {} + queued {}",
                self.all.len(),
                status.pending,
                status.queued
            ));
        }
        let slots: usize = self.all.values().map(|t| t.slots()).sum();
        if slots != self.all_slots {
            return Err(format!("slot count {} but transactions take {slots}", self.all_slots));
        }
        for (address, list) in &self.pending {
            let state_nonce = self.state.nonce(*address);
            let mut expected = state_nonce;
            for tx in list.iter() {
                if tx.nonce != expected {
                    return Err(format!("pending list of {address} has a gap at nonce {expected}"));
                }
                if !self.all.contains_key(&tx.hash()) {
                    return Err(format!("pending {} not indexed", tx.hash()));
                }
                expected += 1;
            }
            if self.pending_nonce(*address) != expected {
                return Err(format!(
                    "pending nonce of {address} is {}, expected {expected}",
                    self.pending_nonce(*address)
                ));
            }
        }
        for list in self.queue.values() {
            for tx in list.iter() {
                if !self.all.contains_key(&tx.hash()) {
                    return Err(format!("queued {} not indexed", tx.hash()));
                }
            }
        }
        let priced = self.priced.heap_len() - self.priced.stales();
        if priced != self.all.len() {
            return Err(format!("price heaps hold {priced} live entries, pool {}", self.all.len()));
        }
        Ok(())
    }
}
