//! State for the executor from the store: the head's flat tables for accounts and storage, stored trie nodes
//! for the state-root update, canonical hashes for BLOCKHASH.

use alloy_primitives::{Address, Bytes, B256, U256};
use keel_evm::{ProviderError, StateProvider};
use keel_primitives::StateAccount;
use keel_store::{StoreError, StoreSnapshot};
use keel_trie::{NodeStore, TrieError};

fn backend(e: StoreError) -> ProviderError {
    ProviderError::Backend(e.to_string())
}

/// The head state of a store snapshot, read from the flat tables (one lookup per account or slot instead of a
/// trie walk). Only valid for executing a child of the snapshot's head.
#[derive(Debug)]
pub struct DbState {
    snapshot: StoreSnapshot,
}

impl DbState {
    pub fn new(snapshot: StoreSnapshot) -> Self {
        Self { snapshot }
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
        self.snapshot.canonical_hash(number).map_err(backend)?.ok_or(ProviderError::MissingBlockHash(number))
    }
}

/// The store's code table as a keccak-keyed [`NodeStore`], for [`keel_evm::TrieState`] over historical states.
#[derive(Debug)]
pub struct CodeStore<'a>(pub &'a StoreSnapshot);

impl NodeStore for CodeStore<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.0.code(*hash).map_err(|e| TrieError::Store(e.to_string()))
    }
}
