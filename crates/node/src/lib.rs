//! `keel-node`: the chain a node runs — a [`Chain`] ties the chain spec, the store and the executor together:
//! it initialises the datadir with the genesis block, imports blocks, builds new ones on its head, and serves
//! state to the executor from the store ([`DbState`]).
//!
//! Everything that executes goes through `keel-evm`, exactly as the proof client does; this crate only decides
//! *where* state comes from and *where* results go.

mod chain;
mod error;
mod state;

pub use chain::Chain;
pub use error::NodeError;
pub use state::{CodeStore, DbState};
