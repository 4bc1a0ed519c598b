//! Runs ethereum/tests fixtures through keel: GeneralStateTests through its executor and trie, BlockchainTests
//! through its node import path (store, executor, trie).
//!
//! Each `post[fork][i]` entry is one subtest: the pre-state is built into keel's trie (not a reference
//! implementation's), the signed transaction (`txbytes`) is decoded, its sender recovered, and it is offered to
//! [`keel_evm::BlockExecutor`] on a block made from `env` — the same code path a block import takes. The
//! resulting state root and logs hash are compared with the fixture.
//!
//! Start at [`run_file`] (state tests) or [`run_block_file`] (blockchain tests); the formats are in [`fixture`].

mod blocktest;
pub mod fixture;
mod runner;

pub use blocktest::{run_block_file, BlockTestResult};
pub use runner::{run_file, run_unit, Filter, Outcome, SubtestResult};

use std::path::PathBuf;

/// Why a fixture file could not be run at all (as opposed to a subtest failing).
#[derive(Debug, thiserror::Error)]
pub enum StatetestError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: malformed fixture at `{field}`: {reason}")]
    Malformed { path: PathBuf, field: String, reason: String },
    #[error("{path}: test {test}: building the pre-state failed: {reason}")]
    PreState { path: PathBuf, test: String, reason: String },
}
