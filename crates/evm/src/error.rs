use alloy_primitives::{Address, B256};
use keel_trie::TrieError;

/// A state read that could not be answered: missing data or a broken backend. Never "the account is absent"
/// (that is `Ok(None)`).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Trie(#[from] TrieError),
    #[error("contract code {0} not found")]
    MissingCode(B256),
    #[error("block hash of block {0} not available")]
    MissingBlockHash(u64),
    #[error("account {address}: stored value is malformed: {reason}")]
    MalformedAccount { address: Address, reason: String },
    #[error("state backend: {0}")]
    Backend(String),
}

impl revm::database_interface::DBErrorMarker for ProviderError {}

/// Why a block could not be executed. An invalid *transaction* inside a block under construction is not an
/// error (it is a [`crate::TxOutcome::Rejected`]); inside a block being imported it makes the block invalid.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("state provider: {0}")]
    Provider(#[from] ProviderError),
    #[error("trie: {0}")]
    Trie(#[from] TrieError),
    #[error("transaction {index} ({hash}): invalid signature: {reason}")]
    InvalidSignature { index: usize, hash: B256, reason: String },
    #[error("transaction {index} ({hash}) is invalid: {reason}")]
    InvalidTransaction { index: usize, hash: B256, reason: String },
    #[error("system call to {address} failed: {reason}")]
    SystemCall { address: Address, reason: String },
    #[error("block header field `{field}` mismatch: header has {expected}, execution computed {got}")]
    HeaderMismatch { field: &'static str, expected: String, got: String },
    #[error("block is invalid: {0}")]
    InvalidBlock(String),
    #[error("revm internal error: {0}")]
    Internal(String),
}
