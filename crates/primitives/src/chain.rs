use crate::{Hardfork, PrimitivesError, EMPTY_ROOT_HASH};
use alloy_consensus::{constants::EMPTY_OMMER_ROOT_HASH, Header};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, Bloom, B256, B64};

/// EIP-1559: the base fee of the first London block when the genesis does not set one (1 gwei).
pub const INITIAL_BASE_FEE: u64 = 1_000_000_000;

/// A chain: its geth-format genesis (config + alloc + genesis header fields) and the hardfork schedule derived
/// from the config. The same value drives the node and the proof client, so both execute identically.
///
/// The chain's sandbox policy, if any, is part of the spec: `config.keel.sandbox` in the genesis JSON (see
/// `keel-policy`). A chain with a policy also gets the policy registry account (`keel_policy::REGISTRY_ADDRESS`,
/// nonce 1) in its genesis allocation, so the state can record inherited rules and grants.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    genesis: Genesis,
    policy: Option<std::sync::Arc<keel_policy::Policy>>,
}

impl ChainSpec {
    /// A spec from a parsed genesis; fails only on an invalid sandbox policy in it.
    pub fn new(genesis: Genesis) -> Result<Self, PrimitivesError> {
        Self::with_genesis("genesis", genesis)
    }

    fn with_genesis(source_name: &str, mut genesis: Genesis) -> Result<Self, PrimitivesError> {
        let section = genesis.config.extra_fields.get("keel").and_then(|k| k.get("sandbox")).cloned();
        let policy = match section {
            None => None,
            Some(value) => {
                let policy = keel_policy::Policy::from_json("config.keel.sandbox", &value)
                    .map_err(|e| PrimitivesError::genesis(source_name, e))?;
                genesis
                    .alloc
                    .entry(keel_policy::REGISTRY_ADDRESS)
                    .or_insert_with(|| alloy_genesis::GenesisAccount::default().with_nonce(Some(1)));
                Some(std::sync::Arc::new(policy))
            }
        };
        Ok(Self { genesis, policy })
    }

    /// This chain with `policy` as its sandbox policy (`keel node --policy FILE`, when a chain is created).
    pub fn with_policy(&self, policy: &keel_policy::PolicyConfig) -> Result<Self, PrimitivesError> {
        let mut genesis = self.genesis.clone();
        let value = serde_json::to_value(policy).map_err(|e| PrimitivesError::genesis("policy", e))?;
        let mut keel =
            genesis.config.extra_fields.get("keel").cloned().unwrap_or_else(|| serde_json::json!({}));
        if let Some(map) = keel.as_object_mut() {
            map.insert("sandbox".into(), value);
        }
        genesis.config.extra_fields.insert("keel".into(), keel);
        Self::with_genesis("policy", genesis)
    }

    /// The chain's sandbox policy, if it has one.
    pub fn policy(&self) -> Option<&std::sync::Arc<keel_policy::Policy>> {
        self.policy.as_ref()
    }

    /// Parses a geth-format genesis JSON document; `source_name` (a file name) is used in error messages, and
    /// errors name the JSON path of the offending field.
    pub fn from_genesis_json(source_name: &str, json: &str) -> Result<Self, PrimitivesError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let genesis: Genesis = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            PrimitivesError::genesis(source_name, format_args!("field `{path}`: {inner}"))
        })?;
        Self::with_genesis(source_name, genesis)
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn chain_id(&self) -> u64 {
        self.genesis.config.chain_id
    }

    /// keccak256 of the canonical JSON of the genesis; a datadir remembers it to refuse a different chain.
    pub fn spec_hash(&self) -> B256 {
        keccak256(serde_json::to_vec(&self.genesis).unwrap_or_default())
    }

    /// Whether `fork` is active for a block with this number and timestamp.
    pub fn is_active(&self, fork: Hardfork, number: u64, timestamp: u64) -> bool {
        let c = &self.genesis.config;
        let by_block = |b: Option<u64>| b.is_some_and(|b| b <= number);
        let by_time = |t: Option<u64>| t.is_some_and(|t| t <= timestamp);
        match fork {
            Hardfork::Frontier => true,
            Hardfork::Homestead => by_block(c.homestead_block),
            Hardfork::Tangerine => by_block(c.eip150_block),
            Hardfork::SpuriousDragon => by_block(c.eip158_block),
            Hardfork::Byzantium => by_block(c.byzantium_block),
            Hardfork::Constantinople => by_block(c.constantinople_block),
            Hardfork::Petersburg => by_block(c.petersburg_block),
            Hardfork::Istanbul => by_block(c.istanbul_block),
            Hardfork::Berlin => by_block(c.berlin_block),
            Hardfork::London => by_block(c.london_block),
            // The merge happened at a total difficulty, not a block: a chain whose TTD is zero (every dev and test
            // chain) or marked passed is post-merge from genesis; a time-based fork implies it too.
            Hardfork::Paris => {
                (by_block(c.london_block)
                    && (c.terminal_total_difficulty_passed
                        || c.terminal_total_difficulty.is_some_and(|t| t.is_zero())))
                    || by_block(c.merge_netsplit_block)
                    || by_time(c.shanghai_time)
            }
            Hardfork::Shanghai => by_time(c.shanghai_time),
            Hardfork::Cancun => by_time(c.cancun_time),
            Hardfork::Prague => by_time(c.prague_time),
            Hardfork::Osaka => by_time(c.osaka_time),
        }
    }

    /// The newest fork active for a block with this number and timestamp.
    pub fn fork_at(&self, number: u64, timestamp: u64) -> Hardfork {
        Hardfork::ALL
            .iter()
            .rev()
            .copied()
            .find(|f| self.is_active(*f, number, timestamp))
            .unwrap_or(Hardfork::Frontier)
    }

    /// The genesis header for a genesis state with root `state_root`: the fields the active forks require are
    /// filled as geth fills them (base fee, withdrawals root, blob gas, beacon root, requests hash).
    pub fn genesis_header(&self, state_root: B256) -> Header {
        let g = &self.genesis;
        let number = g.number.unwrap_or(0);
        let active = |f| self.is_active(f, number, g.timestamp);
        Header {
            parent_hash: g.parent_hash.unwrap_or_default(),
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: g.coinbase,
            state_root,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
            difficulty: g.difficulty,
            number,
            gas_limit: g.gas_limit,
            gas_used: 0,
            timestamp: g.timestamp,
            extra_data: g.extra_data.clone(),
            mix_hash: g.mix_hash,
            nonce: B64::from(g.nonce),
            base_fee_per_gas: active(Hardfork::London)
                .then(|| g.base_fee_per_gas.map(|f| f as u64).unwrap_or(INITIAL_BASE_FEE)),
            withdrawals_root: active(Hardfork::Shanghai).then_some(EMPTY_ROOT_HASH),
            blob_gas_used: active(Hardfork::Cancun).then(|| g.blob_gas_used.unwrap_or(0)),
            excess_blob_gas: active(Hardfork::Cancun).then(|| g.excess_blob_gas.unwrap_or(0)),
            parent_beacon_block_root: active(Hardfork::Cancun).then_some(B256::ZERO),
            requests_hash: active(Hardfork::Prague).then_some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_section_becomes_the_chains_policy() {
        let json = r#"{"config":{"chainId":1,"keel":{"sandbox":{"rule":[{"name":"p","address":"0x5FbDB2315678afecb367f032d93F642f64180aa3","deny":["SSTORE"]}]}}},"alloc":{}}"#;
        let spec = ChainSpec::from_genesis_json("g.json", json).unwrap();
        let policy = spec.policy().unwrap();
        assert_eq!(policy.rules().len(), 1);
        assert!(
            spec.genesis().alloc.contains_key(&keel_policy::REGISTRY_ADDRESS),
            "the registry is allocated"
        );
        // Through the spec's own JSON (what the proof client receives) the policy survives unchanged.
        let again =
            ChainSpec::from_genesis_json("again", &serde_json::to_string(spec.genesis()).unwrap()).unwrap();
        assert_eq!(again.policy().unwrap().hash(), policy.hash());
        assert_eq!(again.spec_hash(), spec.spec_hash());

        let bad = json.replace("SSTORE", "JUMP");
        let err = ChainSpec::from_genesis_json("g.json", &bad).unwrap_err().to_string();
        assert!(err.contains("g.json") && err.contains("rule 0 (p), field `deny`"), "{err}");
        assert!(ChainSpec::from_genesis_json("g.json", r#"{"config":{"chainId":1},"alloc":{}}"#)
            .unwrap()
            .policy()
            .is_none());
    }

    #[test]
    fn bad_genesis_names_the_file_and_field() {
        let err = ChainSpec::from_genesis_json("g.json", r#"{"config":{"chainId":"x"},"alloc":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("g.json"), "{err}");
        assert!(err.contains("config.chainId"), "{err}");
    }

    #[test]
    fn fork_schedule_by_block_and_time() {
        let spec = ChainSpec::from_genesis_json(
            "t",
            r#"{"config":{"chainId":1,"homesteadBlock":0,"eip150Block":0,"eip155Block":0,"eip158Block":0,
            "byzantiumBlock":0,"constantinopleBlock":0,"petersburgBlock":0,"istanbulBlock":0,"berlinBlock":0,
            "londonBlock":5,"terminalTotalDifficulty":0,"shanghaiTime":100,"cancunTime":200},"alloc":{},
            "gasLimit":"0x1c9c380","difficulty":"0x0"}"#,
        )
        .unwrap();
        assert_eq!(spec.fork_at(0, 0), Hardfork::Berlin);
        // TTD 0 makes every block post-merge once London is live.
        assert_eq!(spec.fork_at(5, 0), Hardfork::Paris);
        assert_eq!(spec.fork_at(6, 150), Hardfork::Shanghai);
        assert_eq!(spec.fork_at(7, 250), Hardfork::Cancun);
    }
}
