//! The filled GeneralStateTests JSON format (one file = one or more named tests).

use alloy_primitives::{Address, Bytes, B256, U256};
use serde::Deserialize;
use std::collections::BTreeMap;

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
