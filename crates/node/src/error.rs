use alloy_primitives::{Address, Bytes, B256};
use keel_evm::revm::context::result::{ExecutionResult, HaltReason};

/// Why a chain or node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] keel_store::StoreError),
    #[error("execution: {0}")]
    Evm(#[from] keel_evm::EvmError),
    #[error("state: {0}")]
    Provider(#[from] keel_evm::ProviderError),
    #[error("genesis: {0}")]
    Genesis(#[from] keel_trie::TrieError),
    #[error("block {number} ({hash}) does not extend the head {head}: its parent is {parent}")]
    NotOnHead { number: u64, hash: B256, parent: B256, head: B256 },
    #[error("configuration: {0}")]
    Config(String),
    /// A transaction the node will not accept (geth's wording in the message).
    #[error("{0}")]
    InvalidTransaction(String),
    /// The transaction pool refused a transaction (geth's wording).
    #[error("{0}")]
    Pool(#[from] keel_txpool::PoolError),
    #[error("invalid params: {0}")]
    InvalidParams(String),
    #[error("unknown account {0}")]
    UnknownAccount(Address),
    #[error("unknown block {0}")]
    UnknownBlock(String),
    /// A call reverted: the decoded reason (if any) and the raw revert data.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted { reason: Option<String>, data: Bytes },
    /// A call halted (out of gas, invalid opcode, …).
    #[error("{0}")]
    Halted(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl NodeError {
    /// The error for a call that did not succeed.
    pub fn from_failed_call(result: ExecutionResult<HaltReason>) -> Self {
        match result {
            ExecutionResult::Revert { output, .. } => {
                Self::Reverted { reason: crate::revert::decode_revert_reason(&output), data: output }
            }
            ExecutionResult::Halt { reason, .. } => Self::Halted(crate::revert::halt_message(&reason)),
            ExecutionResult::Success { .. } => Self::Internal("call succeeded".into()),
        }
    }
}
