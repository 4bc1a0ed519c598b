//! keel's shared chain vocabulary: the chain spec (hardfork schedule + geth-format genesis), the dev genesis
//! built from a BIP-39 mnemonic, the account leaf of the state trie, the system contracts Prague expects, and the
//! output root that a fault proof claims.
//!
//! Start with [`ChainSpec`]: everything that decides how a block is executed is derived from it. Header, block,
//! transaction and receipt types are alloy-consensus's (re-exported here) because their RLP *is* Ethereum's.
//!
//! This crate does no I/O beyond parsing bytes it is handed, so the proof client can depend on it.

mod account;
mod chain;
mod dev;
mod error;
mod hardfork;
mod output_root;
mod state;
pub mod system;

pub use account::{StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT_HASH};
pub use chain::{ChainSpec, INITIAL_BASE_FEE};
pub use dev::{dev_accounts, genesis_base_fee, DevAccount, DevGenesis, DEV_CHAIN_ID, DEV_MNEMONIC};
pub use error::PrimitivesError;
pub use hardfork::Hardfork;
pub use output_root::{output_root, MESSAGE_PASSER_ADDRESS};
pub use state::{AccountChange, StateChanges};

pub use alloy_consensus::{
    Block, BlockBody, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Sealed, TxEnvelope, TxType,
};
pub use alloy_eips::eip4895::Withdrawal;
pub use alloy_genesis::{Genesis, GenesisAccount};
pub use alloy_primitives::{self as alloy_primitives, Address, Bloom, Bytes, Log, B256, U256};
