use keel_preimage::PreimageError;

/// Why a proof run could not reach a verdict (the client exits 2).
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("oracle: {0}")]
    Oracle(#[from] PreimageError),
    /// A boot value has the wrong length or content.
    #[error("boot value {index}: {reason}")]
    Boot { index: u64, reason: String },
    /// A preimage does not decode as what it should be.
    #[error("{what} {key}: {reason}")]
    Decode { what: &'static str, key: String, reason: String },
    #[error("execution: {0}")]
    Evm(#[from] keel_evm::EvmError),
    #[error("state: {0}")]
    Provider(#[from] keel_evm::ProviderError),
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    #[error("chain spec: {0}")]
    Spec(String),
    /// The host side: the datadir cannot serve the claim.
    #[error("host: {0}")]
    Host(String),
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
}
