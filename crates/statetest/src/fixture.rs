//! The filled GeneralStateTests JSON format (one file = one or more named tests).

use alloy_primitives::{Address, Bytes, B256, U256};
use serde::Deserialize;
use std::{collections::BTreeMap, path::Path};

/// Reads and parses a fixture file; errors name the file and the JSON path of the bad field.
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, crate::StatetestError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| crate::StatetestError::Read { path: path.to_path_buf(), source })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| crate::StatetestError::Malformed {
        path: path.to_path_buf(),
        field: e.path().to_string(),
        reason: e.inner().to_string(),
    })
}

/// A fixture file: test name → test.
pub type StateTestFile = BTreeMap<String, StateTest>;

#[derive(Debug, Clone, Deserialize)]
pub struct StateTest {
    pub env: Env,
    pub pre: BTreeMap<Address, PreAccount>,
    pub post: BTreeMap<String, Vec<PostEntry>>,
    #[serde(default)]
    pub config: Option<Config>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Env {
    pub current_coinbase: Address,
    pub current_gas_limit: U256,
    pub current_number: U256,
    pub current_timestamp: U256,
    #[serde(default)]
    pub current_difficulty: Option<U256>,
    #[serde(default)]
    pub current_base_fee: Option<U256>,
    #[serde(default)]
    pub current_random: Option<B256>,
    #[serde(default)]
    pub current_excess_blob_gas: Option<U256>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PreAccount {
    pub balance: U256,
    #[serde(default)]
    pub code: Bytes,
    pub nonce: U256,
    #[serde(default)]
    pub storage: BTreeMap<U256, U256>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostEntry {
    pub indexes: Indexes,
    pub hash: B256,
    pub logs: B256,
    pub txbytes: Bytes,
    #[serde(default)]
    pub expect_exception: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Indexes {
    pub data: usize,
    pub gas: usize,
    pub value: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub chainid: Option<U256>,
}

/// A BlockchainTests fixture file: test name → test.
pub type BlockTestFile = BTreeMap<String, BlockTest>;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockTest {
    pub genesis_block_header: GenesisHeader,
    #[serde(rename = "genesisRLP")]
    pub genesis_rlp: Bytes,
    pub pre: BTreeMap<Address, PreAccount>,
    pub blocks: Vec<TestBlock>,
    pub lastblockhash: B256,
    pub network: String,
    #[serde(default)]
    pub post_state: Option<BTreeMap<Address, PreAccount>>,
    #[serde(default)]
    pub seal_engine: Option<String>,
}

/// The genesis header fields a chain spec needs (the rest follow from the forks and the state).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisHeader {
    pub hash: B256,
    pub coinbase: Address,
    pub difficulty: U256,
    pub extra_data: Bytes,
    pub gas_limit: U256,
    pub mix_hash: B256,
    pub nonce: alloy_primitives::B64,
    pub timestamp: U256,
    #[serde(default)]
    pub base_fee_per_gas: Option<U256>,
    #[serde(default)]
    pub blob_gas_used: Option<U256>,
    #[serde(default)]
    pub excess_blob_gas: Option<U256>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestBlock {
    pub rlp: Bytes,
    #[serde(default)]
    pub expect_exception: Option<String>,
}
