use crate::{system::PRAGUE_PREDEPLOYS, ChainSpec, Hardfork, PrimitivesError, INITIAL_BASE_FEE};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_signer_local::{coins_bip39::English, MnemonicBuilder};
use std::collections::BTreeMap;

/// The mnemonic of anvil, hardhat and geth's dev tooling: every developer's first ten accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// anvil's chain id.
pub const DEV_CHAIN_ID: u64 = 31337;

/// One funded dev account: `m/44'/60'/0'/0/{index}` of the mnemonic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    pub index: u32,
    pub address: Address,
    pub private_key: B256,
}

/// Derives the first `count` accounts of a BIP-39 mnemonic along `m/44'/60'/0'/0/i` (BIP-44, as anvil).
pub fn dev_accounts(mnemonic: &str, count: u32) -> Result<Vec<DevAccount>, PrimitivesError> {
    (0..count)
        .map(|index| {
            let err = |e: &dyn std::fmt::Display| PrimitivesError::Mnemonic { index, reason: e.to_string() };
            let signer = MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(index)
                .map_err(|e| err(&e))?
                .build()
                .map_err(|e| err(&e))?;
            Ok(DevAccount { index, address: signer.address(), private_key: signer.to_bytes() })
        })
        .collect()
}

/// Parameters of the dev chain `keel node` creates when it is not given a genesis file (anvil's defaults).
#[derive(Debug, Clone)]
pub struct DevGenesis {
    pub mnemonic: String,
    pub accounts: u32,
    /// Balance of each dev account, in ether.
    pub balance_ether: u64,
    pub chain_id: u64,
    pub gas_limit: u64,
    /// Base fee of block 1, the first block mined (as anvil's `--base-fee`): the genesis header carries the base
    /// fee from which EIP-1559 yields exactly this after an empty genesis.
    pub base_fee: u64,
    pub timestamp: u64,
    pub hardfork: Hardfork,
}

impl Default for DevGenesis {
    fn default() -> Self {
        Self {
            mnemonic: DEV_MNEMONIC.to_string(),
            accounts: 10,
            balance_ether: 10_000,
            chain_id: DEV_CHAIN_ID,
            gas_limit: 30_000_000,
            base_fee: INITIAL_BASE_FEE,
            timestamp: 0,
            hardfork: Hardfork::LATEST,
        }
    }
}

impl DevGenesis {
    /// The dev accounts this genesis funds.
    pub fn dev_accounts(&self) -> Result<Vec<DevAccount>, PrimitivesError> {
        dev_accounts(&self.mnemonic, self.accounts)
    }

    /// A chain spec with every fork up to `hardfork` active from genesis, the dev accounts funded and (from
    /// Cancun/Prague) the system contracts predeployed as geth's `--dev` genesis does.
    pub fn chain_spec(&self) -> Result<ChainSpec, PrimitivesError> {
        let fork = self.hardfork;
        let at = |f: Hardfork| (fork >= f).then_some(0u64);
        let config = ChainConfig {
            chain_id: self.chain_id,
            homestead_block: at(Hardfork::Homestead),
            eip150_block: at(Hardfork::Tangerine),
            eip155_block: at(Hardfork::SpuriousDragon),
            eip158_block: at(Hardfork::SpuriousDragon),
            byzantium_block: at(Hardfork::Byzantium),
            constantinople_block: at(Hardfork::Constantinople),
            petersburg_block: at(Hardfork::Petersburg),
            istanbul_block: at(Hardfork::Istanbul),
            berlin_block: at(Hardfork::Berlin),
            london_block: at(Hardfork::London),
            terminal_total_difficulty: (fork >= Hardfork::Paris).then_some(U256::ZERO),
            terminal_total_difficulty_passed: fork >= Hardfork::Paris,
            shanghai_time: at(Hardfork::Shanghai),
            cancun_time: at(Hardfork::Cancun),
            prague_time: at(Hardfork::Prague),
            osaka_time: at(Hardfork::Osaka),
            ..Default::default()
        };
        let balance = U256::from(self.balance_ether) * U256::from(10u64).pow(U256::from(18u64));
        let mut alloc = BTreeMap::new();
        for account in self.dev_accounts()? {
            alloc.insert(account.address, GenesisAccount { balance, ..Default::default() });
        }
        let predeploys = match fork {
            f if f >= Hardfork::Prague => &PRAGUE_PREDEPLOYS[..],
            f if f >= Hardfork::Cancun => &PRAGUE_PREDEPLOYS[..1],
            _ => &[],
        };
        for (address, code) in predeploys {
            alloc.insert(
                *address,
                GenesisAccount { nonce: Some(1), code: Some(Bytes::from_static(code)), ..Default::default() },
            );
        }
        let genesis = Genesis {
            config,
            nonce: 0,
            timestamp: self.timestamp,
            gas_limit: self.gas_limit,
            difficulty: U256::ZERO,
            base_fee_per_gas: (fork >= Hardfork::London)
                .then_some(u128::from(genesis_base_fee(self.base_fee))),
            alloc,
            ..Default::default()
        };
        ChainSpec::new(genesis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn first_dev_accounts_match_anvil() {
        let accounts = dev_accounts(DEV_MNEMONIC, 10).unwrap();
        assert_eq!(accounts.len(), 10);
        assert_eq!(accounts[0].address, address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(
            accounts[0].private_key,
            b256!("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
        );
        assert_eq!(accounts[1].address, address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"));
        assert_eq!(accounts[9].address, address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720"));
    }

    #[test]
    fn dev_chain_runs_the_latest_fork_from_genesis() {
        let spec = DevGenesis::default().chain_spec().unwrap();
        assert_eq!(spec.chain_id(), 31337);
        assert_eq!(spec.fork_at(0, 0), Hardfork::LATEST);
        assert_eq!(spec.genesis().alloc.len(), 14);
    }

    #[test]
    fn bad_mnemonic_is_an_error() {
        assert!(dev_accounts("not a mnemonic", 1).is_err());
    }
}

/// The genesis base fee whose EIP-1559 successor after an empty genesis block is `first_block` (or the least one
/// above it when no base fee maps exactly): an empty block lowers the base fee by `floor(base_fee / 8)`.
pub fn genesis_base_fee(first_block: u64) -> u64 {
    let next = |g: u64| g - g / 8;
    let mut g = (u128::from(first_block) * 8 / 7).min(u128::from(u64::MAX)) as u64;
    while g > 0 && next(g) > first_block {
        g -= 1;
    }
    while next(g) < first_block {
        g += 1;
    }
    g
}

#[cfg(test)]
mod base_fee_tests {
    use super::genesis_base_fee;

    #[test]
    fn first_block_gets_the_configured_base_fee() {
        assert_eq!(genesis_base_fee(1_000_000_000), 1_142_857_142);
        for b in [0u64, 1, 7, 8, 9, 875_000_000, 1_000_000_000, 123_456_789] {
            let g = genesis_base_fee(b);
            // Exact where some genesis base fee maps onto `b`, otherwise the next value above it.
            let next = g - g / 8;
            assert!(next >= b && next - b <= 1, "{b} -> {g} -> {next}");
        }
    }
}
