//! What a node is started with (the CLI maps anvil's flags onto this).

use keel_primitives::{ChainSpec, DevGenesis};
use std::{path::PathBuf, time::Duration};

/// How blocks are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// A block as soon as a transaction arrives (anvil's default).
    Auto,
    /// A block every interval, with whatever is pending (anvil `--block-time`).
    Interval(Duration),
    /// Only on request (`evm_mine`, `anvil_mine`; anvil `--no-mining`).
    Manual,
}

/// A node's configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the chain lives; `None` keeps it in memory.
    pub datadir: Option<PathBuf>,
    /// The chain to run; `None` runs the dev chain `dev` describes.
    pub genesis: Option<ChainSpec>,
    /// The dev chain, and in any case the mnemonic and number of the accounts the node signs for.
    pub dev: DevGenesis,
    pub mining: Mining,
    /// Transaction pool limits (`--txpool.*`).
    pub pool: keel_txpool::PoolConfig,
    /// evm_revert puts the transactions of the blocks it unwinds back into the pool (a reorganisation, as geth
    /// handles them). `false` drops them, as anvil does (snapshot/revert test fixtures expect that).
    pub reinject_on_revert: bool,
    /// The datadir's key: the chain database and the txpool journal are encrypted at rest (`keel_store::crypt`).
    pub key: Option<keel_store::DbKey>,
    /// A sandbox policy to make part of the chain spec (`--policy FILE`); the datadir then remembers the spec
    /// with it, so a restart must give the same policy.
    pub policy: Option<keel_evm::keel_policy::PolicyConfig>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            datadir: None,
            genesis: None,
            dev: DevGenesis::default(),
            mining: Mining::Auto,
            pool: keel_txpool::PoolConfig::default(),
            reinject_on_revert: true,
            key: None,
            policy: None,
        }
    }
}
