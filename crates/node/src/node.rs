//! [`Node`]: a running dev chain — the chain, a pool, dev-account signing, mining and time control, and the
//! events RPC subscriptions follow. All methods are synchronous; writers serialise on one lock, readers use
//! store snapshots and never wait for a block to be built.

use crate::{
    config::{Mining, NodeConfig},
    Chain, DbState, NodeError, OverriddenState, StateView,
};
use alloy_consensus::{Header, SignableTransaction, TxEip1559, TxEip2930, TxEip7702, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{keccak256, Address, Signature, TxKind, B256, U256};
use alloy_rpc_types_eth::{state::StateOverride, BlockId, BlockNumberOrTag, TransactionRequest};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_evm::{
    next_base_fee, revm::context::result::ExecutionResult, revm::context::TxEnv, spec_id, BlockAttributes,
    BlockExecutor, Candidates, ExecutionConfig, RecoveredTx, StatePatch, StateProvider,
};
use keel_primitives::{ChainSpec, Sealed};
use keel_store::{OpenOptions, RecordCipher, Store, StoreSnapshot};
use keel_txpool::{
    AccountState, BestTransactions, LocalTracker, Pool, PoolError, PoolHead, PoolTx, PooledTx, SystemClock,
    TxJournal, Validator,
};
use rayon::prelude::*;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};
use tokio::sync::broadcast;
use tracing::{debug, info};

/// What subscribers hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A new head block.
    Block { number: u64, hash: B256 },
    /// A transaction entered the pool.
    PendingTransaction(B256),
}

/// The pool's view of the head state (with pending cheat-code overwrites of nonce and balance).
///
/// It reads through a fresh store snapshot each time instead of holding one: the pool keeps its state from one
/// head to the next, and a snapshot held across a block commit makes every write of that commit copy the
/// journal overlay's shared tree nodes (and pins memory), which made each block dearer than the one before.
/// The pool is only consulted under the node's lock, which block commits also hold, so the head it reads is the
/// one it was reset to.
struct PoolState {
    store: Arc<keel_store::Store>,
    patches: HashMap<Address, (Option<u64>, Option<U256>)>,
}

impl AccountState for PoolState {
    fn nonce(&self, address: Address) -> u64 {
        self.account(address).0
    }
    fn balance(&self, address: Address) -> U256 {
        self.account(address).1
    }
    fn nonce_and_balance(&self, address: Address) -> (u64, U256) {
        self.account(address)
    }
}

impl PoolState {
    fn account(&self, address: Address) -> (u64, U256) {
        let stored = self.store.snapshot().and_then(|snapshot| snapshot.account(address));
        let (mut nonce, mut balance) = match stored {
            Ok(account) => account.map_or((0, U256::ZERO), |a| (a.nonce, a.balance)),
            Err(e) => {
                // The pool then treats the account as empty: its transactions wait or are refused, never lost
                // silently (the error is logged).
                tracing::error!(%address, error = %e, "txpool: cannot read account");
                (0, U256::ZERO)
            }
        };
        if let Some((patched_nonce, patched_balance)) = self.patches.get(&address) {
            nonce = patched_nonce.unwrap_or(nonce);
            balance = patched_balance.unwrap_or(balance);
        }
        (nonce, balance)
    }
}

/// Block building takes the pool's best transactions; a failed one skips its sender's later ones.
struct PoolCandidates(BestTransactions);

impl Candidates for PoolCandidates {
    fn next_candidate(&mut self) -> Option<RecoveredTx> {
        self.0.next().map(|tx| tx.tx.clone())
    }
    fn rejected(&mut self, tx: &RecoveredTx) {
        self.0.mark_invalid(tx.sender);
    }
}

/// Reorganisations deeper than this do not reinject their transactions (geth's limit).
const MAX_REINJECT_DEPTH: usize = 64;

#[derive(Debug)]
struct Inner {
    pool: Pool,
    mining: Mining,
    /// Seconds added to the wall clock (evm_increaseTime).
    time_offset: i64,
    /// Timestamp of the next block (evm_setNextBlockTimestamp).
    next_timestamp: Option<u64>,
    /// evm_snapshot points, oldest first.
    snapshots: Vec<SnapshotPoint>,
    next_snapshot: u64,
    /// Accounts eth_sendTransaction may send from without their key (anvil_impersonateAccount).
    impersonated: std::collections::HashSet<Address>,
    auto_impersonate: bool,
    reinject_on_revert: bool,
    /// Transactions submitted through RPC (unless `--txpool.nolocals`), and their journal.
    locals: Option<LocalTracker>,
    journal: Option<TxJournal>,
    /// When the journal was last rewritten.
    journaled_at: std::time::Instant,
}

/// What evm_revert restores.
#[derive(Debug, Clone)]
struct SnapshotPoint {
    id: u64,
    block: u64,
    time_offset: i64,
    next_timestamp: Option<u64>,
    patches: BTreeMap<Address, StatePatch>,
}

/// The pending patches as an `eth_call` state override.
fn patches_as_overrides(patches: &BTreeMap<Address, StatePatch>) -> StateOverride {
    patches
        .iter()
        .map(|(address, p)| {
            let state_diff = (!p.storage.is_empty())
                .then(|| p.storage.iter().map(|(k, v)| (B256::from(*k), B256::from(*v))).collect());
            let account = alloy_rpc_types_eth::state::AccountOverride {
                balance: p.balance,
                nonce: p.nonce,
                code: p.code.clone(),
                state_diff,
                ..Default::default()
            };
            (*address, account)
        })
        .collect()
}

/// A running dev chain.
#[derive(Debug)]
pub struct Node {
    chain: Chain,
    accounts: Vec<Address>,
    signers: HashMap<Address, PrivateKeySigner>,
    inner: Mutex<Inner>,
    /// Cheat-code overwrites (anvil_set*) not yet in a block; reads at the head see them, the next block applies
    /// them. Separate from `inner` so reads never wait for a block being built. Lock order: `inner`, then this.
    patches: Mutex<BTreeMap<Address, StatePatch>>,
    events: broadcast::Sender<NodeEvent>,
    /// `--verify-blocks`: the judge thread's queue and its verdicts.
    pub(crate) verifier: crate::verify::Verifier,
}

/// The txpool journal's records sealed with the datadir key.
#[derive(Debug)]
struct SealedJournal(RecordCipher);

impl keel_txpool::RecordSealer for SealedJournal {
    fn seal(&self, record: &[u8]) -> Vec<u8> {
        self.0.seal(record)
    }

    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.0.open(sealed)
    }
}

/// The local-transaction journal at `path` sealed for the datadir key `key`.
fn sealed_journal(path: &std::path::Path, key: &keel_store::DbKey) -> TxJournal {
    TxJournal::sealed(path, Arc::new(SealedJournal(RecordCipher::new(key, "txpool-journal"))))
}

/// Re-seals the local-transaction journal of an encrypted datadir from key `old` to key `new` (part of
/// `keel db rekey`); returns how many transactions it holds. A missing journal is nothing to do.
pub fn reseal_tx_journal(
    path: &std::path::Path,
    old: &keel_store::DbKey,
    new: &keel_store::DbKey,
) -> Result<usize, NodeError> {
    if !path.exists() {
        return Ok(0);
    }
    let txs = sealed_journal(path, old).load().map_err(|e| NodeError::Config(e.to_string()))?;
    sealed_journal(path, new).rotate(txs.iter()).map_err(|e| NodeError::Config(e.to_string()))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Node {
    /// Opens (or creates) the chain described by `config`.
    pub fn open(config: &NodeConfig) -> Result<Self, NodeError> {
        let dev = &config.dev;
        let spec = match &config.genesis {
            Some(spec) => spec.clone(),
            None => dev.chain_spec().map_err(|e| NodeError::Config(e.to_string()))?,
        };
        let spec = match &config.policy {
            Some(policy) => spec.with_policy(policy).map_err(|e| NodeError::Config(e.to_string()))?,
            None => spec,
        };
        if let Some(policy) = spec.policy() {
            info!(hash = %policy.hash(), rules = policy.rules().len(), "sandbox policy loaded");
        }
        let store = match &config.datadir {
            Some(dir) => {
                Store::open_opts(dir, &OpenOptions { key: config.key.clone(), ..Default::default() })?
            }
            None => Store::memory(),
        };
        let chain = Chain::open(spec, store)?;
        let dev_accounts = dev.dev_accounts().map_err(|e| NodeError::Config(e.to_string()))?;
        let mut accounts = Vec::new();
        let mut signers = HashMap::new();
        for account in dev_accounts {
            let signer = PrivateKeySigner::from_bytes(&account.private_key)
                .map_err(|e| NodeError::Config(format!("dev key {}: {e}", account.index)))?;
            accounts.push(account.address);
            signers.insert(account.address, signer);
        }
        let (events, _) = broadcast::channel(1024);
        let pool = {
            let snapshot = Arc::new(chain.store().snapshot()?);
            let head = snapshot.require_head()?;
            let validator = Validator {
                chain_id: chain.spec().chain_id(),
                spec: spec_id(chain.spec().fork_at(head.number + 1, head.timestamp)).ok_or_else(|| {
                    NodeError::Config("the chain's fork has no EVM specification in revm".into())
                })?,
                gas_limit: head.gas_limit,
                min_tip: config.pool.price_limit,
            };
            let state: Arc<dyn AccountState> =
                Arc::new(PoolState { store: chain.store_handle(), patches: HashMap::default() });
            let pool_head = PoolHead {
                number: head.number,
                gas_limit: head.gas_limit,
                base_fee: next_base_fee(chain.spec(), head.inner()),
            };
            Pool::new(config.pool.clone(), validator, pool_head, state, Arc::new(SystemClock::default()))
        };
        let inner = Inner {
            pool,
            mining: config.mining,
            time_offset: 0,
            next_timestamp: None,
            snapshots: Vec::new(),
            next_snapshot: 1,
            impersonated: Default::default(),
            auto_impersonate: false,
            reinject_on_revert: config.reinject_on_revert,
            locals: (!config.pool.no_locals).then(LocalTracker::default),
            journal: config.pool.journal.clone().filter(|_| !config.pool.no_locals).map(|path| match &config
                .key
            {
                Some(key) => {
                    TxJournal::sealed(path, Arc::new(SealedJournal(RecordCipher::new(key, "txpool-journal"))))
                }
                None => TxJournal::new(path),
            }),
            journaled_at: std::time::Instant::now(),
        };
        let node = Self {
            chain,
            accounts,
            signers,
            inner: Mutex::new(inner),
            patches: Mutex::default(),
            events,
            verifier: Default::default(),
        };
        node.restore_locals()?;
        Ok(node)
    }

    /// Loads the local-transaction journal into the pool (those still valid) and rewrites it.
    fn restore_locals(&self) -> Result<(), NodeError> {
        let mut inner = self.lock();
        let Some(journal) = inner.journal.as_ref() else { return Ok(()) };
        let txs = journal.load().map_err(|e| NodeError::Config(e.to_string()))?;
        let loaded = txs.len();
        let validator = inner.pool.validator();
        // Signature recovery and stateless checks in parallel, journal order kept.
        let valid: Vec<PoolTx> = txs.into_par_iter().filter_map(|tx| validator.validate(tx).ok()).collect();
        // Track every journaled transaction that is well-formed, as geth does: one the pool turns away now (its
        // sender is short of funds, say) is resubmitted by the upkeep until it is mined or its nonce passes.
        for tx in &valid {
            if let Some(locals) = inner.locals.as_mut() {
                locals.track(tx.sender(), tx.tx.tx.clone());
            }
        }
        let report = inner.pool.add(valid);
        let restored = report.results.iter().filter(|r| r.is_ok()).count();
        self.rejournal(&mut inner);
        if loaded > 0 {
            info!(loaded, restored, "restored local transactions from the journal");
        }
        Ok(())
    }

    /// Rewrites the journal from the tracked local transactions.
    fn rejournal(&self, inner: &mut Inner) {
        let Inner { journal, locals, journaled_at, .. } = inner;
        if let (Some(journal), Some(locals)) = (journal.as_mut(), locals.as_ref()) {
            match journal.rotate(locals.all().map(|(_, tx)| tx)) {
                Ok(count) => debug!(count, "rewrote the txpool journal"),
                Err(e) => tracing::error!(error = %e, "txpool journal"),
            }
        }
        *journaled_at = std::time::Instant::now();
    }

    /// Periodic pool upkeep (the node runs it every few seconds): evicts idle queues past their lifetime,
    /// forgets mined local transactions, resubmits local ones the pool dropped while still valid, and rewrites
    /// the journal every `rejournal` interval.
    pub fn maintain_pool(&self) -> Result<(), NodeError> {
        let mut inner = self.lock();
        let evicted = inner.pool.evict_stale();
        if evicted > 0 {
            debug!(evicted, "txpool: dropped idle queued transactions");
        }
        if inner.locals.is_some() {
            let (_, state) = self.state(BlockId::latest())?;
            let nonce = |a: Address| state.account(a).ok().flatten().map_or(0, |acc| acc.nonce);
            let mut missing = Vec::new();
            let Inner { locals, pool, .. } = &mut *inner;
            if let Some(locals) = locals.as_mut() {
                locals.prune(nonce);
                missing = locals
                    .all()
                    .filter(|(_, tx)| pool.get(tx.tx_hash()).is_none())
                    .map(|(sender, tx)| RecoveredTx { tx: tx.clone(), sender, hash: *tx.tx_hash() })
                    .collect();
            }
            if !missing.is_empty() {
                let validator = inner.pool.validator();
                let txs: Vec<PoolTx> =
                    missing.into_iter().filter_map(|tx| validator.validate_recovered(tx).ok()).collect();
                let resubmitted = txs.len();
                let report = inner.pool.add(txs);
                for tx in &report.promoted {
                    let _ = self.events.send(NodeEvent::PendingTransaction(tx.hash()));
                }
                debug!(resubmitted, "txpool: resubmitted local transactions");
            }
            if inner.journaled_at.elapsed() >= inner.pool.config().rejournal {
                self.rejournal(&mut inner);
            }
        }
        Ok(())
    }

    fn patches(&self) -> MutexGuard<'_, BTreeMap<Address, StatePatch>> {
        self.patches.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the pool as it was at some point; carry on with it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub fn spec(&self) -> &ChainSpec {
        self.chain.spec()
    }

    pub fn chain_id(&self) -> u64 {
        self.chain.spec().chain_id()
    }

    /// The dev accounts (eth_accounts), in mnemonic order.
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    pub fn mining(&self) -> Mining {
        self.lock().mining
    }

    pub fn set_mining(&self, mining: Mining) {
        self.lock().mining = mining;
    }

    /// A consistent view of the chain.
    pub fn snapshot(&self) -> Result<Arc<StoreSnapshot>, NodeError> {
        Ok(Arc::new(self.chain.store().snapshot()?))
    }

    /// The header `id` names, if the chain has it. `pending` reads as the head.
    pub fn header(&self, snapshot: &StoreSnapshot, id: BlockId) -> Result<Option<Sealed<Header>>, NodeError> {
        let head = || snapshot.require_head();
        Ok(match id {
            BlockId::Hash(h) => {
                snapshot.header(h.block_hash)?.map(|header| Sealed::new_unchecked(header, h.block_hash))
            }
            BlockId::Number(tag) => match tag {
                BlockNumberOrTag::Latest
                | BlockNumberOrTag::Pending
                | BlockNumberOrTag::Safe
                | BlockNumberOrTag::Finalized => Some(head()?),
                BlockNumberOrTag::Earliest => snapshot.header_by_number(0)?,
                BlockNumberOrTag::Number(n) => snapshot.header_by_number(n)?,
            },
        })
    }

    /// The state after block `id`, with the block's header.
    pub fn state(&self, id: BlockId) -> Result<(Sealed<Header>, StateView), NodeError> {
        let snapshot = self.snapshot()?;
        let header = self.header(&snapshot, id)?.ok_or(NodeError::UnknownBlock(id.to_string()))?;
        let head = snapshot.head_hash()?;
        let view = if head == Some(header.hash()) {
            let patches = &*self.patches();
            if patches.is_empty() {
                StateView::Head(DbState::new(snapshot))
            } else {
                StateView::Patched(Box::new(OverriddenState::new(
                    DbState::new(snapshot),
                    patches_as_overrides(patches),
                )))
            }
        } else {
            StateView::at_root(snapshot, header.state_root)
        };
        Ok((header, view))
    }

    /// The nonce the next transaction of `sender` should have: after its pooled transactions.
    pub fn pending_nonce(&self, sender: Address) -> Result<u64, NodeError> {
        Ok(self.lock().pool.pending_nonce(sender))
    }

    /// A pooled (not yet mined) transaction.
    pub fn pooled(&self, hash: &B256) -> Option<RecoveredTx> {
        self.lock().pool.get(hash).map(|tx| tx.tx.clone())
    }

    /// The pool's pending and queued transactions by sender, in nonce order.
    #[allow(clippy::type_complexity)]
    pub fn pool_content(&self) -> (BTreeMap<Address, Vec<PooledTx>>, BTreeMap<Address, Vec<PooledTx>>) {
        let inner = self.lock();
        (inner.pool.pending(), inner.pool.queued())
    }

    /// (pending, queued) counts.
    pub fn pool_status(&self) -> keel_txpool::PoolStatus {
        self.lock().pool.status()
    }

    /// miner_setGasPrice: the minimum tip the pool accepts; raising it drops cheaper transactions.
    pub fn set_min_tip(&self, tip: u128) {
        self.lock().pool.set_min_tip(tip);
    }

    /// The pool's head-state view, with the pending cheat-code overwrites.
    fn pool_state(&self) -> Result<Arc<dyn AccountState>, NodeError> {
        let patches = self.patches().iter().map(|(address, p)| (*address, (p.nonce, p.balance))).collect();
        Ok(Arc::new(PoolState { store: self.chain.store_handle(), patches }))
    }

    /// Tells the pool about a new head (or a changed head state): it re-validates, promotes and demotes, and
    /// takes `reinject` back. Announces what became pending.
    fn reset_pool(&self, inner: &mut Inner, reinject: Vec<PoolTx>) -> Result<(), NodeError> {
        let head = self.chain.head()?;
        let pool_head = PoolHead {
            number: head.number,
            gas_limit: head.gas_limit,
            base_fee: next_base_fee(self.spec(), head.inner()),
        };
        let promoted = inner.pool.reset(pool_head, self.pool_state()?, reinject);
        for tx in promoted {
            let _ = self.events.send(NodeEvent::PendingTransaction(tx.hash()));
        }
        Ok(())
    }

    /// eth_sendRawTransaction: decodes, validates and pools an EIP-2718 transaction; mines it at once under
    /// automine.
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<B256, NodeError> {
        let mut buf = raw;
        let tx = TxEnvelope::decode_2718(&mut buf)
            .map_err(|e| NodeError::InvalidTransaction(format!("invalid transaction encoding: {e}")))?;
        if !buf.is_empty() {
            return Err(NodeError::InvalidTransaction(format!(
                "{} trailing bytes after the transaction",
                buf.len()
            )));
        }
        self.submit(tx)
    }

    /// Validates and pools a signed transaction.
    pub fn submit(&self, tx: TxEnvelope) -> Result<B256, NodeError> {
        // Stateless checks and signature recovery run before the pool's lock is taken.
        let validator = self.lock().pool.validator();
        let tx = validator.validate(tx)?;
        self.add_to_pool(tx, true)
    }

    /// Validates and pools a transaction whose sender is known.
    fn submit_recovered(&self, tx: RecoveredTx) -> Result<B256, NodeError> {
        let validator = self.lock().pool.validator();
        let tx = validator.validate_recovered(tx)?;
        self.add_to_pool(tx, true)
    }

    /// Adds a validated transaction to the pool; under automine, mines what became executable. A `local` one
    /// (submitted through RPC) is tracked and journaled; if the pool only turned it away for now (it is full),
    /// the node keeps it and resubmits it later, as geth does.
    fn add_to_pool(&self, tx: PoolTx, local: bool) -> Result<B256, NodeError> {
        let hash = tx.hash();
        let (sender, envelope) = (tx.sender(), tx.tx.tx.clone());
        let mut inner = self.lock();
        let mut report = inner.pool.add(vec![tx]);
        let result = report.results.pop().unwrap_or(Err(PoolError::AlreadyKnown));
        let temporary = matches!(
            result,
            Err(PoolError::Underpriced | PoolError::PoolOverflow | PoolError::FutureReplacePending)
        );
        if local && (result.is_ok() || temporary) {
            let Inner { locals, journal, .. } = &mut *inner;
            if let Some(locals) = locals.as_mut() {
                if !locals.contains(&hash) {
                    if let Some(journal) = journal.as_mut() {
                        if let Err(e) = journal.insert(&envelope) {
                            tracing::error!(error = %e, "txpool journal");
                        }
                    }
                }
                locals.track(sender, envelope);
            }
            if temporary {
                debug!(%hash, reason = %result.as_ref().err().map(ToString::to_string).unwrap_or_default(), "local transaction kept for resubmission");
                return Ok(hash);
            }
        }
        result?;
        debug!(%hash, promoted = report.promoted.len(), "transaction pooled");
        for tx in &report.promoted {
            let _ = self.events.send(NodeEvent::PendingTransaction(tx.hash()));
        }
        if inner.mining == Mining::Auto && !report.promoted.is_empty() {
            self.mine_locked(&mut inner, None)?;
        }
        Ok(hash)
    }

    /// eth_sendTransaction: signs `request` with a dev key, or — for an impersonated account — marks it with a
    /// placeholder signature and the claimed sender, then pools it.
    pub fn send_transaction(&self, request: TransactionRequest) -> Result<B256, NodeError> {
        let from = request.from.ok_or_else(|| NodeError::InvalidParams("missing `from`".into()))?;
        let tx = self.sign_request(request)?;
        if self.signers.contains_key(&from) {
            return self.submit(tx);
        }
        let hash = *tx.tx_hash();
        self.submit_recovered(RecoveredTx { tx, sender: from, hash })
    }

    /// Whether `from` may send without its key.
    fn impersonating(&self, from: Address) -> bool {
        let inner = self.lock();
        inner.auto_impersonate || inner.impersonated.contains(&from)
    }

    /// anvil_impersonateAccount / anvil_stopImpersonatingAccount.
    pub fn impersonate(&self, address: Address, on: bool) {
        let mut inner = self.lock();
        if on {
            inner.impersonated.insert(address);
        } else {
            inner.impersonated.remove(&address);
        }
    }

    /// anvil_autoImpersonateAccount.
    pub fn auto_impersonate(&self, on: bool) {
        self.lock().auto_impersonate = on;
    }

    /// Fills in and signs a transaction request with a dev key (eth_signTransaction). For an impersonated
    /// account the signature is a placeholder (r = the sender's address, s = 1): the transaction executes as
    /// that sender in keel's blocks, and no one else would accept it.
    pub fn sign_request(&self, request: TransactionRequest) -> Result<TxEnvelope, NodeError> {
        let from = request.from.ok_or_else(|| NodeError::InvalidParams("missing `from`".into()))?;
        let signer = match self.signers.get(&from) {
            Some(signer) => Some(signer),
            None if self.impersonating(from) => None,
            None => return Err(NodeError::UnknownAccount(from)),
        };
        let (head, _) = self.state(BlockId::latest())?;
        let nonce = match request.nonce {
            Some(n) => n,
            None => self.pending_nonce(from)?,
        };
        let gas_limit = match request.gas {
            Some(g) => g,
            None => self.estimate_gas(request.clone(), BlockId::latest(), None)?,
        };
        let to = request.to.unwrap_or(TxKind::Create);
        let value = request.value.unwrap_or_default();
        let input = request.input.input().cloned().unwrap_or_default();
        let chain_id = self.chain_id();
        let base_fee = u128::from(next_base_fee(self.spec(), head.inner()));
        let sign = |hash: B256| -> Result<Signature, NodeError> {
            match signer {
                Some(signer) => {
                    signer.sign_hash_sync(&hash).map_err(|e| NodeError::Internal(format!("signing: {e}")))
                }
                None => Ok(Signature::new(U256::from_be_slice(from.as_slice()), U256::from(1u8), false)),
            }
        };
        let tx = if let Some(gas_price) = request.gas_price {
            match request.access_list {
                Some(access_list) => {
                    let tx =
                        TxEip2930 { chain_id, nonce, gas_price, gas_limit, to, value, access_list, input };
                    let sig = sign(tx.signature_hash())?;
                    TxEnvelope::Eip2930(tx.into_signed(sig))
                }
                None => {
                    let tx =
                        TxLegacy { chain_id: Some(chain_id), nonce, gas_price, gas_limit, to, value, input };
                    let sig = sign(tx.signature_hash())?;
                    TxEnvelope::Legacy(tx.into_signed(sig))
                }
            }
        } else {
            let max_priority_fee_per_gas = request.max_priority_fee_per_gas.unwrap_or(DEFAULT_TIP);
            let max_fee_per_gas = request.max_fee_per_gas.unwrap_or(2 * base_fee + max_priority_fee_per_gas);
            let access_list = request.access_list.unwrap_or_default();
            match request.authorization_list {
                Some(authorization_list) => {
                    let TxKind::Call(to) = to else {
                        return Err(NodeError::InvalidParams("EIP-7702 transactions cannot create".into()));
                    };
                    let tx = TxEip7702 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to,
                        value,
                        access_list,
                        authorization_list,
                        input,
                    };
                    let sig = sign(tx.signature_hash())?;
                    TxEnvelope::Eip7702(tx.into_signed(sig))
                }
                None => {
                    let tx = TxEip1559 {
                        chain_id,
                        nonce,
                        gas_limit,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to,
                        value,
                        access_list,
                        input,
                    };
                    let sig = sign(tx.signature_hash())?;
                    TxEnvelope::Eip1559(tx.into_signed(sig))
                }
            }
        };
        Ok(tx)
    }

    /// eth_sign: an EIP-191 personal-message signature with a dev key.
    pub fn sign_message(&self, address: Address, message: &[u8]) -> Result<Signature, NodeError> {
        let signer = self.signers.get(&address).ok_or(NodeError::UnknownAccount(address))?;
        signer.sign_message_sync(message).map_err(|e| NodeError::Internal(format!("signing: {e}")))
    }

    /// Signs a 32-byte hash with a dev key (eth_signTypedData_v4 signs the EIP-712 hash).
    pub fn sign_hash(&self, address: Address, hash: B256) -> Result<Signature, NodeError> {
        let signer = self.signers.get(&address).ok_or(NodeError::UnknownAccount(address))?;
        signer.sign_hash_sync(&hash).map_err(|e| NodeError::Internal(format!("signing: {e}")))
    }

    /// Mines `count` blocks (evm_mine / anvil_mine), the first at `timestamp` if given.
    pub fn mine(&self, count: u64, timestamp: Option<u64>) -> Result<Vec<B256>, NodeError> {
        let mut inner = self.lock();
        let mut hashes = Vec::new();
        for i in 0..count.max(1) {
            hashes.push(self.mine_locked(&mut inner, if i == 0 { timestamp } else { None })?);
        }
        Ok(hashes)
    }

    /// Mines one block with the pool's candidates (also called by the interval miner).
    pub fn mine_pending(&self) -> Result<B256, NodeError> {
        let mut inner = self.lock();
        self.mine_locked(&mut inner, None)
    }

    fn mine_locked(&self, inner: &mut Inner, timestamp: Option<u64>) -> Result<B256, NodeError> {
        let (head, state) = self.chain.head_state()?;
        let pending = self.patches().clone();
        let state = OverriddenState::new(state, patches_as_overrides(&pending));
        let wall = now().saturating_add_signed(inner.time_offset);
        let timestamp = timestamp.or(inner.next_timestamp.take()).unwrap_or(wall).max(head.timestamp + 1);
        let base_fee = next_base_fee(self.spec(), head.inner());
        let mut candidates = PoolCandidates(inner.pool.best(base_fee));
        drop(state);
        let attributes = BlockAttributes {
            timestamp,
            beneficiary: Address::ZERO,
            gas_limit: head.gas_limit,
            prev_randao: keccak256(head.hash()),
            parent_beacon_block_root: Some(B256::ZERO),
            patches: pending.values().cloned().collect(),
            ..Default::default()
        };
        let outcome = self.chain.build(&attributes, &mut candidates)?;
        // Drop what the block applied; an overwrite that arrived meanwhile waits for the next block.
        let mut patches = self.patches();
        for (address, applied) in pending {
            if patches.get(&address) == Some(&applied) {
                patches.remove(&address);
            }
        }
        drop(patches);
        for (hash, reason) in &outcome.rejected {
            debug!(%hash, reason, "pooled transaction left out of the block");
        }
        // The new head drops what was mined and anything no longer valid, and promotes what now can run.
        self.reset_pool(inner, Vec::new())?;
        let number = outcome.block.header.number;
        info!(number, hash = %outcome.hash, txs = outcome.block.body.transactions.len(), gas = outcome.block.header.gas_used, "mined");
        let _ = self.events.send(NodeEvent::Block { number, hash: outcome.hash });
        self.queue_verification(number);
        Ok(outcome.hash)
    }

    /// evm_increaseTime: moves the clock forward; returns the total offset in seconds.
    pub fn increase_time(&self, seconds: i64) -> i64 {
        let mut inner = self.lock();
        inner.time_offset = inner.time_offset.saturating_add(seconds);
        inner.time_offset
    }

    /// evm_setNextBlockTimestamp.
    pub fn set_next_timestamp(&self, timestamp: u64) -> Result<(), NodeError> {
        let head = self.chain.head()?;
        if timestamp <= head.timestamp {
            return Err(NodeError::InvalidParams(format!(
                "timestamp {timestamp} is not after the head's {}",
                head.timestamp
            )));
        }
        self.lock().next_timestamp = Some(timestamp);
        Ok(())
    }

    /// Builds revm's transaction for a call request.
    pub(crate) fn call_tx_env(
        &self,
        request: &TransactionRequest,
        gas_cap: u64,
        nonce: u64,
    ) -> Result<TxEnv, NodeError> {
        let from = request.from.unwrap_or_default();
        let input = request.input.input().cloned().unwrap_or_default();
        if let (Some(a), Some(b)) = (&request.input.input, &request.input.data) {
            if a != b {
                return Err(NodeError::InvalidParams(
                    "both \"data\" and \"input\" are set and not equal. Please use \"input\" to pass transaction call data".into(),
                ));
            }
        }
        let (tx_type, gas_price, gas_priority_fee) = match (request.gas_price, request.max_fee_per_gas) {
            (Some(price), _) => (if request.access_list.is_some() { 1 } else { 0 }, price, None),
            (None, Some(max_fee)) => {
                (2, max_fee, Some(request.max_priority_fee_per_gas.unwrap_or(0).min(max_fee)))
            }
            (None, None) => (if request.access_list.is_some() { 1 } else { 0 }, 0, None),
        };
        let tx_type = if request.authorization_list.is_some() { 4 } else { tx_type };
        Ok(TxEnv {
            tx_type,
            caller: from,
            gas_limit: request.gas.unwrap_or(gas_cap).min(gas_cap),
            gas_price,
            kind: request.to.unwrap_or(TxKind::Create),
            value: request.value.unwrap_or_default(),
            data: input,
            nonce,
            chain_id: Some(self.chain_id()),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee,
            authorization_list: request
                .authorization_list
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(keel_evm::revm::context::either::Either::Left)
                .collect(),
            ..Default::default()
        })
    }

    /// eth_call: runs `request` on the state after block `id` (with optional state overrides), committing nothing.
    pub fn call(
        &self,
        request: &TransactionRequest,
        id: BlockId,
        overrides: Option<StateOverride>,
        block_overrides: Option<alloy_rpc_types_eth::BlockOverrides>,
    ) -> Result<ExecutionResult, NodeError> {
        let (header, state) = self.state(id)?;
        // geth: a call at block N runs in N's own env (number, timestamp, base fee, with the base-fee floor off).
        let mut env = header.inner().clone();
        if let Some(o) = block_overrides {
            let small = |v: U256, what: &str| {
                u64::try_from(v)
                    .map_err(|_| NodeError::InvalidParams(format!("block override {what} exceeds 64 bits")))
            };
            if let Some(n) = o.number {
                env.number = small(n, "number")?;
            }
            if let Some(d) = o.difficulty {
                env.difficulty = d;
            }
            if let Some(t) = o.time {
                env.timestamp = t;
            }
            if let Some(g) = o.gas_limit {
                env.gas_limit = g;
            }
            if let Some(c) = o.coinbase {
                env.beneficiary = c;
            }
            if let Some(r) = o.random {
                env.mix_hash = r;
            }
            if let Some(b) = o.base_fee {
                env.base_fee_per_gas = Some(small(b, "baseFee")?);
            }
        }
        let state = OverriddenState::new(state, overrides.unwrap_or_default());
        let nonce = state.account(request.from.unwrap_or_default())?.map_or(0, |a| a.nonce);
        let tx = self.call_tx_env(request, env.gas_limit, nonce)?;
        let config = ExecutionConfig::for_header(self.spec(), &env);
        let mut executor = BlockExecutor::for_call(config, &env, state)?;
        Ok(executor.simulate(tx)?)
    }

    /// anvil_reset (without forking): unwinds the chain to genesis, clears the pool, snapshots, patches and the
    /// clock — a reorganisation, like evm_revert.
    pub fn reset(&self) -> Result<(), NodeError> {
        let mut inner = self.lock();
        self.chain.store().unwind_to(0)?;
        inner.snapshots.clear();
        self.patches().clear();
        // anvil_reset starts over: the pool is emptied, not reinjected.
        let config = inner.pool.config().clone();
        let validator = inner.pool.validator();
        let head = self.chain.head()?;
        let pool_head = PoolHead {
            number: head.number,
            gas_limit: head.gas_limit,
            base_fee: next_base_fee(self.spec(), head.inner()),
        };
        inner.pool =
            Pool::new(config, validator, pool_head, self.pool_state()?, Arc::new(SystemClock::default()));
        inner.time_offset = 0;
        inner.next_timestamp = None;
        let head = self.chain.head()?;
        let _ = self.events.send(NodeEvent::Block { number: head.number, hash: head.hash() });
        Ok(())
    }

    /// eth_estimateGas: the least gas limit with which `request` succeeds (geth's binary search), or the error /
    /// revert it fails with at the cap.
    pub fn estimate_gas(
        &self,
        request: TransactionRequest,
        id: BlockId,
        overrides: Option<StateOverride>,
    ) -> Result<u64, NodeError> {
        let (header, state) = self.state(id)?;
        // geth: a call at block N runs in N's own env (number, timestamp, base fee, with the base-fee floor off).
        let env = header.inner().clone();
        let state = OverriddenState::new(state, overrides.unwrap_or_default());
        let nonce = state.account(request.from.unwrap_or_default())?.map_or(0, |a| a.nonce);
        let config = ExecutionConfig::for_header(self.spec(), &env);
        let mut executor = BlockExecutor::for_call(config, &env, state)?;
        let cap = request.gas.unwrap_or(u64::MAX).min(executor.max_transaction_gas());
        let mut run = |gas: u64| -> Result<ExecutionResult, NodeError> {
            let mut tx = self.call_tx_env(&request, cap, nonce)?;
            tx.gas_limit = gas;
            Ok(executor.simulate(tx)?)
        };
        let at_cap = run(cap)?;
        if !at_cap.is_success() {
            return Err(NodeError::from_failed_call(at_cap));
        }
        let used = at_cap.tx_gas_used();
        // geth: try the optimistic guess (used + refund headroom) first, then binary search.
        let mut lo = used.saturating_sub(1);
        let mut hi = cap;
        let optimistic = (used + 2300) * 64 / 63;
        if optimistic < hi {
            match run(optimistic) {
                Ok(r) if r.is_success() => hi = optimistic,
                _ => lo = optimistic,
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            match run(mid) {
                Ok(r) if r.is_success() => hi = mid,
                _ => lo = mid,
            }
        }
        Ok(hi)
    }
}

/// Default priority fee of transactions the node signs (1 gwei, as anvil).
const DEFAULT_TIP: u128 = 1_000_000_000;

impl Node {
    /// eth_getProof: EIP-1186 account and storage proofs from keel's own trie at block `id`.
    pub fn proof(
        &self,
        address: Address,
        keys: Vec<alloy_serde::JsonStorageKey>,
        id: BlockId,
    ) -> Result<alloy_rpc_types_eth::EIP1186AccountProofResponse, NodeError> {
        use keel_trie::SecureTrie;
        let snapshot = self.snapshot()?;
        let header = self.header(&snapshot, id)?.ok_or(NodeError::UnknownBlock(id.to_string()))?;
        let accounts = SecureTrie::open(header.state_root, &*snapshot);
        let account_proof = accounts.prove(address.as_slice())?;
        let account: keel_primitives::StateAccount = match accounts.get(address.as_slice())? {
            Some(rlp) => alloy_rlp::decode_exact(&rlp)
                .map_err(|e| NodeError::Internal(format!("account {address} in the state trie: {e}")))?,
            None => Default::default(),
        };
        let storage = SecureTrie::open(account.storage_root, &*snapshot);
        let storage_proof = keys
            .into_iter()
            .map(|key| {
                let slot = key.as_b256();
                let proof = storage.prove(slot.as_slice())?;
                let value = match storage.get(slot.as_slice())? {
                    Some(rlp) => alloy_rlp::decode_exact::<U256>(&rlp)
                        .map_err(|e| NodeError::Internal(format!("storage {address}[{slot}]: {e}")))?,
                    None => U256::ZERO,
                };
                Ok(alloy_rpc_types_eth::EIP1186StorageProof { key, value, proof })
            })
            .collect::<Result<_, NodeError>>()?;
        Ok(alloy_rpc_types_eth::EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: account.storage_root,
            account_proof,
            storage_proof,
        })
    }
}

/// Dev-node controls: cheat codes, snapshots, mining.
impl Node {
    /// Records a state overwrite (anvil_setBalance / setNonce / setCode / setStorageAt): visible at once to reads
    /// at the head, applied at the start of the next block.
    pub fn patch(&self, address: Address, f: impl FnOnce(&mut StatePatch)) {
        {
            let mut patches = self.patches();
            let patch =
                patches.entry(address).or_insert_with(|| StatePatch { address, ..Default::default() });
            f(patch);
        }
        // The pool sees the new balance / nonce at once (admission, promotion, demotion).
        let mut inner = self.lock();
        if let Err(e) = self.reset_pool(&mut inner, Vec::new()) {
            tracing::error!(error = %e, "txpool: cannot re-read the head state after a cheat code");
        }
    }

    /// evm_snapshot: remembers the current head (and clock and pending patches); returns the snapshot's id.
    pub fn snapshot_point(&self) -> Result<u64, NodeError> {
        let block = self.chain.head()?.number;
        let mut inner = self.lock();
        let id = inner.next_snapshot;
        inner.next_snapshot += 1;
        let point = SnapshotPoint {
            id,
            block,
            time_offset: inner.time_offset,
            next_timestamp: inner.next_timestamp,
            patches: self.patches().clone(),
        };
        inner.snapshots.push(point);
        Ok(id)
    }

    /// evm_revert: unwinds the chain to the snapshot's head (a reorganisation) and forgets this snapshot and all
    /// later ones. Returns false for an unknown id. Pooled transactions stay pooled, and the transactions of the
    /// unwound blocks go back into the pool (geth's reorganisation; none when more than 64 blocks were unwound,
    /// or when `reinject_on_revert` is off).
    pub fn revert_to(&self, id: u64) -> Result<bool, NodeError> {
        let mut inner = self.lock();
        let Some(position) = inner.snapshots.iter().position(|s| s.id == id) else { return Ok(false) };
        let point = inner.snapshots[position].clone();
        inner.snapshots.truncate(position);
        let removed = self.chain.store().unwind_to(point.block)?;
        inner.time_offset = point.time_offset;
        inner.next_timestamp = point.next_timestamp;
        *self.patches() = point.patches;
        let reinject = if inner.reinject_on_revert {
            self.discarded_transactions(&removed, &inner.pool.validator())?
        } else {
            Vec::new()
        };
        self.reset_pool(&mut inner, reinject)?;
        if let Ok(head) = self.chain.head() {
            info!(to = point.block, removed = removed.len(), "reverted");
            let _ = self.events.send(NodeEvent::Block { number: head.number, hash: head.hash() });
        }
        Ok(true)
    }

    /// debug_setHead: rewinds the chain to block `number` (a reorganisation: the unwound blocks' transactions go
    /// back into the pool, as for evm_revert). Snapshots of later blocks are forgotten.
    pub fn set_head(&self, number: u64) -> Result<(), NodeError> {
        let mut inner = self.lock();
        let head = self.chain.head()?;
        if number > head.number {
            return Err(NodeError::InvalidParams(format!(
                "block {number} is ahead of the head {}; debug_setHead only rewinds",
                head.number
            )));
        }
        inner.snapshots.retain(|s| s.block <= number);
        let removed = self.chain.store().unwind_to(number)?;
        let reinject = self.discarded_transactions(&removed, &inner.pool.validator())?;
        self.reset_pool(&mut inner, reinject)?;
        let head = self.chain.head()?;
        info!(to = number, removed = removed.len(), "head set");
        let _ = self.events.send(NodeEvent::Block { number: head.number, hash: head.hash() });
        Ok(())
    }

    /// The transactions of blocks a reorganisation removed (newest block first in `removed`), oldest first, as
    /// pool transactions; none past the reinjection depth.
    fn discarded_transactions(
        &self,
        removed: &[B256],
        validator: &Validator,
    ) -> Result<Vec<PoolTx>, NodeError> {
        if removed.len() > MAX_REINJECT_DEPTH {
            info!(depth = removed.len(), "skipping deep transaction reorg");
            return Ok(Vec::new());
        }
        let snapshot = self.snapshot()?;
        let mut recovered = Vec::new();
        for hash in removed.iter().rev() {
            let Some(body) = snapshot.body(*hash)? else { continue };
            let senders = snapshot.senders(*hash)?.unwrap_or_default();
            for (tx, sender) in body.transactions.into_iter().zip(senders) {
                let hash = *tx.tx_hash();
                recovered.push(RecoveredTx { tx, sender, hash });
            }
        }
        // Stateless checks in parallel, order kept.
        let txs = recovered
            .into_par_iter()
            .filter_map(|tx| {
                let hash = tx.hash;
                validator
                    .validate_recovered(tx)
                    .map_err(|e| debug!(%hash, error = %e, "not reinjecting"))
                    .ok()
            })
            .collect();
        Ok(txs)
    }

    /// anvil_mine: `count` blocks, `interval` seconds apart.
    pub fn mine_spaced(&self, count: u64, interval: Option<u64>) -> Result<Vec<B256>, NodeError> {
        let mut inner = self.lock();
        let mut hashes = Vec::new();
        for _ in 0..count.max(1) {
            let timestamp = match interval {
                Some(step) => Some(self.chain.head()?.timestamp + step.max(1)),
                None => None,
            };
            hashes.push(self.mine_locked(&mut inner, timestamp)?);
        }
        Ok(hashes)
    }
}
