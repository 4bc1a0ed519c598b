//! `keel-bench`: execution throughput of keel against bare revm, on synthetic blocks of real transactions.
//!
//! A [`Workload`] is a set of signed blocks (ETH transfers, ERC-20 transfers of OpenZeppelin's ERC-20, or
//! storage-heavy calls) built once on a throw-away chain. [`run`] then executes the same blocks three ways and
//! reports gas per second for each:
//! - **revm**: bare revm over its in-memory `CacheDB` (senders known, no receipts, no state root, no disk);
//! - **execute**: keel's [`keel_evm::BlockExecutor`] over the redb-backed head state, without state root or commit;
//! - **import**: keel's full import (`keel_node::Chain::import`): sender recovery, execution, every header check
//!   including the state root over the stored trie, and the atomic redb commit.
//!
//! `keel bench` prints the figures and the ratio import / revm.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod contracts;
mod error;
mod policy_bench;
mod pool_bench;
mod proof_bench;
mod rpc_bench;
mod run;
mod workload;

pub use error::BenchError;
pub use policy_bench::{bench_policy, PolicyMode, PolicyReport};
pub use pool_bench::{
    bench_insert, bench_memory, raw_hex, signed_transfers, transfer_senders, InsertReport, MemoryReport,
};
pub use proof_bench::{bench_proof, bench_round_trip, Placement, ProofReport, RoundTripReport};
pub use rpc_bench::{bench_node, keel_command, pool_accept_rate, NodeReport, NodeUnderTest, SendReport};
pub use run::{run, BenchReport, ModeResult};
pub use workload::{Workload, WorkloadKind};
