/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("chain: {0}")]
    Node(#[from] keel_node::NodeError),
    #[error("execution: {0}")]
    Evm(#[from] keel_evm::EvmError),
    #[error("store: {0}")]
    Store(#[from] keel_store::StoreError),
    #[error("bare revm: {0}")]
    Revm(String),
    #[error("workload setup: {0}")]
    Setup(String),
    #[error("temporary datadir: {0}")]
    Io(#[from] std::io::Error),
}
