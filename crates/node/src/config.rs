//! What a node is started with (the CLI maps anvil's flags onto this).

use keel_primitives::{ChainSpec, DevGenesis, Hardfork, DEV_CHAIN_ID, DEV_MNEMONIC};
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
    /// The chain to run; `None` runs the dev chain described by the fields below.
    pub genesis: Option<ChainSpec>,
    pub mnemonic: String,
    pub accounts: u32,
    pub balance_ether: u64,
    pub chain_id: u64,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub hardfork: Hardfork,
    pub mining: Mining,
}

impl Default for NodeConfig {
    fn default() -> Self {
        let dev = DevGenesis::default();
        Self {
            datadir: None,
            genesis: None,
            mnemonic: DEV_MNEMONIC.to_string(),
            accounts: dev.accounts,
            balance_ether: dev.balance_ether,
            chain_id: DEV_CHAIN_ID,
            gas_limit: dev.gas_limit,
            base_fee: dev.base_fee,
            hardfork: dev.hardfork,
            mining: Mining::Auto,
        }
    }
}

impl NodeConfig {
    /// The dev genesis these settings describe (used when no `genesis` is given).
    pub fn dev_genesis(&self) -> DevGenesis {
        DevGenesis {
            mnemonic: self.mnemonic.clone(),
            accounts: self.accounts,
            balance_ether: self.balance_ether,
            chain_id: self.chain_id,
            gas_limit: self.gas_limit,
            base_fee: self.base_fee,
            hardfork: self.hardfork,
            ..DevGenesis::default()
        }
    }
}
