//! State for the executor and for reads, from the store: the head's flat tables ([`DbState`]), any older state
//! through its state root ([`StateView::At`]), and `eth_call` state overrides on top of either
//! ([`OverriddenState`]).

use alloy_primitives::{keccak256, map::HashMap, Address, Bytes, B256, U256};
use alloy_rpc_types_eth::state::{AccountOverride, StateOverride};
use keel_evm::{BlockHashes, ProviderError, StateProvider, TrieState};
use keel_primitives::{StateAccount, EMPTY_CODE_HASH};
use keel_store::{StoreError, StoreSnapshot};
use keel_trie::{NodeStore, TrieError};
use std::sync::Arc;

fn backend(e: StoreError) -> ProviderError {
    ProviderError::Backend(e.to_string())
}

/// The head state of a store snapshot, read from the flat tables (one lookup per account or slot instead of a
/// trie walk). Only valid for the snapshot's head.
#[derive(Debug, Clone)]
pub struct DbState {
    snapshot: Arc<StoreSnapshot>,
}

impl DbState {
    pub fn new(snapshot: impl Into<Arc<StoreSnapshot>>) -> Self {
        Self { snapshot: snapshot.into() }
    }

    pub fn snapshot(&self) -> &StoreSnapshot {
        &self.snapshot
    }
}

impl NodeStore for DbState {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.snapshot.node(hash)
    }
}

impl StateProvider for DbState {
    fn account(&self, address: Address) -> Result<Option<StateAccount>, ProviderError> {
        self.snapshot.account(address).map_err(backend)
    }

    fn storage(&self, address: Address, _storage_root: B256, slot: U256) -> Result<U256, ProviderError> {
        self.snapshot.storage(address, slot).map_err(backend)
    }

    fn code(&self, code_hash: B256) -> Result<Bytes, ProviderError> {
        self.snapshot.code(code_hash).map_err(backend)?.ok_or(ProviderError::MissingCode(code_hash))
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        canonical_hash(&self.snapshot, number)
    }
}

fn canonical_hash(snapshot: &StoreSnapshot, number: u64) -> Result<B256, ProviderError> {
    snapshot.canonical_hash(number).map_err(backend)?.ok_or(ProviderError::MissingBlockHash(number))
}

/// The store's code table as a keccak-keyed [`NodeStore`].
#[derive(Debug, Clone)]
pub struct CodeStore(pub Arc<StoreSnapshot>);

impl NodeStore for CodeStore {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.0.code(*hash).map_err(|e| TrieError::Store(e.to_string()))
    }
}

/// Canonical block hashes from the store, for BLOCKHASH.
#[derive(Debug, Clone)]
pub struct CanonicalHashes(pub Arc<StoreSnapshot>);

impl BlockHashes for CanonicalHashes {
    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        canonical_hash(&self.0, number)
    }
}

/// The state after some block: the head through the flat tables, any other block through its state root.
#[derive(Debug)]
pub enum StateView {
    Head(DbState),
    /// The head with the dev node's pending cheat-code overwrites (`anvil_set*`) on top.
    Patched(Box<OverriddenState<DbState>>),
    At(TrieState<Arc<StoreSnapshot>, CodeStore, CanonicalHashes>),
}

impl StateView {
    /// The state with root `state_root`, read through the trie.
    pub fn at_root(snapshot: Arc<StoreSnapshot>, state_root: B256) -> Self {
        Self::At(TrieState::new(
            state_root,
            snapshot.clone(),
            CodeStore(snapshot.clone()),
            CanonicalHashes(snapshot),
        ))
    }

    fn inner(&self) -> &dyn StateProvider {
        match self {
            Self::Head(s) => s,
            Self::Patched(s) => &**s,
            Self::At(s) => s,
        }
    }
}

impl NodeStore for StateView {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.inner().node(hash)
    }
}

impl StateProvider for StateView {
    fn account(&self, address: Address) -> Result<Option<StateAccount>, ProviderError> {
        self.inner().account(address)
    }

    fn storage(&self, address: Address, storage_root: B256, slot: U256) -> Result<U256, ProviderError> {
        self.inner().storage(address, storage_root, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Bytes, ProviderError> {
        self.inner().code(code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        self.inner().block_hash(number)
    }
}

/// A state with per-account overrides on top (geth's `eth_call` state override set): balance, nonce, code, and
/// either a full storage replacement (`state`) or a partial one (`stateDiff`). Never used to build blocks.
#[derive(Debug)]
pub struct OverriddenState<P> {
    base: P,
    overrides: HashMap<Address, AccountOverride>,
    codes: HashMap<B256, Bytes>,
}

/// Marker storage root of an overridden account whose storage is fully replaced (`state`): reads never reach the
/// base trie for it.
const REPLACED_STORAGE: B256 = B256::repeat_byte(0xee);

impl<P: StateProvider> OverriddenState<P> {
    pub fn new(base: P, overrides: StateOverride) -> Self {
        let mut codes = HashMap::default();
        for o in overrides.values() {
            if let Some(code) = &o.code {
                codes.insert(keccak256(code), code.clone());
            }
        }
        Self { base, overrides: overrides.into_iter().collect(), codes }
    }
}

impl<P: StateProvider> NodeStore for OverriddenState<P> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.base.node(hash)
    }
}

impl<P: StateProvider> StateProvider for OverriddenState<P> {
    fn account(&self, address: Address) -> Result<Option<StateAccount>, ProviderError> {
        let base = self.base.account(address)?;
        let Some(o) = self.overrides.get(&address) else { return Ok(base) };
        let mut account = base.unwrap_or_default();
        if let Some(balance) = o.balance {
            account.balance = balance;
        }
        if let Some(nonce) = o.nonce {
            account.nonce = nonce;
        }
        if let Some(code) = &o.code {
            account.code_hash = if code.is_empty() { EMPTY_CODE_HASH } else { keccak256(code) };
        }
        if o.state.is_some() {
            account.storage_root = REPLACED_STORAGE;
        }
        Ok(Some(account))
    }

    fn storage(&self, address: Address, storage_root: B256, slot: U256) -> Result<U256, ProviderError> {
        if let Some(o) = self.overrides.get(&address) {
            let key = B256::from(slot);
            if let Some(state) = &o.state {
                return Ok(state.get(&key).map_or(U256::ZERO, |v| U256::from_be_bytes(v.0)));
            }
            if let Some(value) = o.state_diff.as_ref().and_then(|d| d.get(&key)) {
                return Ok(U256::from_be_bytes(value.0));
            }
        }
        self.base.storage(address, storage_root, slot)
    }

    fn code(&self, code_hash: B256) -> Result<Bytes, ProviderError> {
        match self.codes.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        self.base.block_hash(number)
    }
}
