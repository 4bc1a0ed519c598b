//! `keel-proof`: the fault-proof program. A stateless *client* re-executes blocks seeing nothing but a preimage
//! oracle and judges a claimed output root; a *host* serves the preimages it asks for.
//!
//! Where to start reading:
//! - [`run_client`] (`client.rs`): boot information from local keys, the agreed header as the keccak preimage
//!   of its hash, the claimed block and its ancestors back to the agreed one, each block's transactions through
//!   its transactions root, execution with `keel-evm`'s executor (the node's own) over an oracle-backed
//!   [`keel_evm::TrieState`], then the output root against the claim. No I/O but the oracle, no clocks, threads
//!   or unordered iteration; every keccak256 / sha256 preimage is checked against its key.
//! - [`DatadirHost`] (`host.rs`): serves preimages from a keel datadir (trie nodes, code, headers, and the
//!   transaction and withdrawal tries it rebuilds from block bodies), and the boot values of a claim about a block.
//!
//! Boot keys: PREIMAGE.md's 1–6, plus 7 (a keel extension): the claimed block's hash. keel has no L1 to derive
//! blocks from, so the host names the block the claim is about; the client checks that it descends from the
//! agreed block and that its header, transactions and state transition are consistent before judging the claim.

mod client;
mod error;
mod host;
mod oracle;

pub use client::{run_client, Verdict};
pub use error::ProofError;
pub use host::{record_witness, BootValues, DatadirHost, LoopbackOracle, PrepareJob, Prepared};
pub use oracle::{Oracle, PipeOracle};

/// Local key 7 (keel extension): the claimed block's hash.
pub const CLAIMED_BLOCK_HASH: u64 = 7;
