use crate::ProviderError;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use keel_primitives::{StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT_HASH};
use keel_trie::{NodeStore, SecureTrie, TrieError};

/// Where the executor reads the pre-state of a block. Implementations: the node's database (flat tables,
/// trie nodes in redb), the proof client's preimage oracle, and [`TrieState`] over any [`NodeStore`].
///
/// The provider is also a [`NodeStore`]: after execution the executor walks the parent's state trie through it
/// to compute the new state root, so whatever serves trie nodes to it is what the root is built from.
pub trait StateProvider: NodeStore {
    /// The account at `address` in the parent state, or `None` if it does not exist.
    fn account(&self, address: Address) -> Result<Option<StateAccount>, ProviderError>;
    /// The value of `slot` in the storage of `address`; `storage_root` is the account's storage root (callers
    /// always have it, and trie-walking providers need it).
    fn storage(&self, address: Address, storage_root: B256, slot: U256) -> Result<U256, ProviderError>;
    /// Contract code by its keccak256 hash.
    fn code(&self, code_hash: B256) -> Result<Bytes, ProviderError>;
    /// The hash of an ancestor block (BLOCKHASH, at most 256 back).
    fn block_hash(&self, number: u64) -> Result<B256, ProviderError>;
}

/// Block hashes for BLOCKHASH, as a [`TrieState`] needs them.
pub trait BlockHashes {
    fn block_hash(&self, number: u64) -> Result<B256, ProviderError>;
}

impl<F: Fn(u64) -> Result<B256, ProviderError>> BlockHashes for F {
    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        self(number)
    }
}

/// A [`StateProvider`] that answers every read by walking the state trie from `root` through a [`NodeStore`];
/// code comes from a second keccak-keyed store. This is the stateless shape: the proof client uses it over its
/// preimage oracle, and the state-test runner over an in-memory store.
#[derive(Debug, Clone)]
pub struct TrieState<N, C, H> {
    root: B256,
    nodes: N,
    codes: C,
    block_hashes: H,
}

impl<N: NodeStore, C: NodeStore, H: BlockHashes> TrieState<N, C, H> {
    pub fn new(root: B256, nodes: N, codes: C, block_hashes: H) -> Self {
        Self { root, nodes, codes, block_hashes }
    }

    pub fn root(&self) -> B256 {
        self.root
    }
}

impl<N: NodeStore, C, H> NodeStore for TrieState<N, C, H> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        self.nodes.node(hash)
    }
}

impl<N: NodeStore, C: NodeStore, H: BlockHashes> StateProvider for TrieState<N, C, H> {
    fn account(&self, address: Address) -> Result<Option<StateAccount>, ProviderError> {
        let trie = SecureTrie::open(self.root, &self.nodes);
        let Some(rlp) = trie.get(address.as_slice())? else { return Ok(None) };
        let account = alloy_rlp::decode_exact::<StateAccount>(&rlp)
            .map_err(|e| ProviderError::MalformedAccount { address, reason: e.to_string() })?;
        Ok(Some(account))
    }

    fn storage(&self, _address: Address, storage_root: B256, slot: U256) -> Result<U256, ProviderError> {
        if storage_root == EMPTY_ROOT_HASH {
            return Ok(U256::ZERO);
        }
        let trie = SecureTrie::open(storage_root, &self.nodes);
        match trie.get(&slot.to_be_bytes::<32>())? {
            None => Ok(U256::ZERO),
            Some(rlp) => alloy_rlp::decode_exact::<U256>(&rlp).map_err(|e| {
                ProviderError::Trie(TrieError::MalformedNode {
                    hash: storage_root,
                    reason: format!("storage value of slot {slot}: {e}"),
                })
            }),
        }
    }

    fn code(&self, code_hash: B256) -> Result<Bytes, ProviderError> {
        if code_hash == EMPTY_CODE_HASH {
            return Ok(Bytes::new());
        }
        match self.codes.node(&code_hash)? {
            Some(code) if keccak256(&code) == code_hash => Ok(code),
            _ => Err(ProviderError::MissingCode(code_hash)),
        }
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        self.block_hashes.block_hash(number)
    }
}
