//! keel's block executor: Ethereum block processing on revm.
//!
//! Reading order: [`StateProvider`] (where pre-state comes from: a database for the node, a preimage oracle for
//! the proof client, an in-memory trie for state tests) → [`BlockExecutor`] (one block: system calls, transactions,
//! withdrawals, requests) → [`ExecutedBlock`] (receipts, roots, the state diff and the new trie nodes to persist).
//! [`execute_block`] imports an existing block and checks its header; [`build_block`] assembles a new one.
//!
//! The node and the proof client run exactly this code; a divergence between them would be a consensus bug.

mod block;
mod db;
mod error;
mod executor;
mod fork;
mod genesis;
mod provider;
mod roots;
pub mod sandbox;
mod state_root;
mod tx;

pub use block::{
    build_block, execute_block, execute_recovered_block, next_base_fee, next_excess_blob_gas,
    validate_header_against_parent, BlockAttributes, BlockBuildOutcome, Candidates, ImportedBlock, InOrder,
    StatePatch,
};
pub use db::BlockState;
pub use error::{EvmError, ProviderError};
pub use executor::{
    BlockExecutor, ExecutedBlock, ExecutionConfig, ExecutorContext, KeelContext, TxOutcome, TxReceipt,
};
pub use fork::{blob_params, spec_id, BlobParams};
pub use genesis::{alloc_changes, genesis_state, GenesisState};
pub use keel_policy;
pub use keel_primitives::{AccountChange, StateChanges};
pub use provider::{BlockHashes, StateProvider, TrieState};
pub use roots::{logs_bloom, logs_hash, ordered_trie_root};
pub use state_root::{apply_state_changes, StateRootUpdate};
pub use tx::{recover_transactions, tx_env, RecoveredTx};

pub use revm;
