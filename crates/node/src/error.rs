use alloy_primitives::B256;

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("execution: {0}")]
    Evm(#[from] keel_evm::EvmError),
    #[error("genesis: {0}")]
    Genesis(#[from] keel_trie::TrieError),
    #[error("block {number} ({hash}) does not extend the head {head}: its parent is {parent}")]
    NotOnHead { number: u64, hash: B256, parent: B256, head: B256 },
}
