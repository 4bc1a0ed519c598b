//! `keel-node`: the chain a node runs.
//!
//! - [`Chain`] ties the chain spec, the store and the executor together: it initialises the datadir with the
//!   genesis block, imports blocks, builds new ones on its head, and serves state to the executor from the store.
//! - [`Node`] is a running dev chain on top: the `keel-txpool` pool (re-exported as [`txpool`]), dev-account signing, automine / interval /
//!   manual mining, time control, `eth_call`-style simulation, and the events subscriptions follow.
//!
//! Everything that executes goes through `keel-evm`, exactly as the proof client does; this crate only decides
//! *where* state comes from and *where* results go.

mod chain;
mod config;
mod error;
mod node;
mod revert;
mod state;
mod trace;
mod verify;

pub use chain::Chain;
pub use config::{Mining, NodeConfig};
pub use error::NodeError;
pub use keel_txpool as txpool;
pub use node::{reseal_tx_journal, Node, NodeEvent};
pub use revert::{decode_revert_reason, halt_message};
pub use state::{CanonicalHashes, CodeStore, DbState, OverriddenState, StateView};
pub use verify::{BlockVerdict, VerifyConfig};
