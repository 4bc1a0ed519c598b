use crate::{apply_state_changes, AccountChange, StateChanges, StateRootUpdate};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use keel_primitives::{ChainSpec, GenesisAccount, Header, StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT_HASH};
use keel_trie::{MemoryNodeStore, TrieError};
use std::collections::BTreeMap;

/// An allocation (genesis `alloc`, a state test's `pre`) as the diff that creates it from the empty state.
pub fn alloc_changes(alloc: &BTreeMap<Address, GenesisAccount>) -> StateChanges {
    let mut new_code = Vec::new();
    let accounts = alloc
        .iter()
        .map(|(address, account)| {
            let code = account.code.clone().unwrap_or_default();
            let code_hash = if code.is_empty() { EMPTY_CODE_HASH } else { keccak256(&code) };
            if !code.is_empty() {
                new_code.push((code_hash, code));
            }
            let mut storage: Vec<(U256, U256)> = account
                .storage
                .iter()
                .flatten()
                .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                .filter(|(_, v)| !v.is_zero())
                .collect();
            storage.sort_unstable_by_key(|(k, _)| *k);
            AccountChange {
                address: *address,
                hashed_address: keccak256(address),
                account: Some(StateAccount {
                    nonce: account.nonce.unwrap_or(0),
                    balance: account.balance,
                    storage_root: EMPTY_ROOT_HASH,
                    code_hash,
                }),
                wiped: false,
                storage,
            }
        })
        .collect();
    new_code.sort_unstable_by_key(|(h, _)| *h);
    new_code.dedup_by_key(|(h, _)| *h);
    StateChanges { accounts, new_code }
}

/// The genesis block of a chain, built with keel's trie: header, state diff and trie nodes.
#[derive(Debug, Clone)]
pub struct GenesisState {
    pub header: Header,
    pub hash: B256,
    pub changes: StateChanges,
    pub trie_nodes: Vec<(B256, Bytes)>,
}

/// Builds the genesis state and header of `spec`.
pub fn genesis_state(spec: &ChainSpec) -> Result<GenesisState, TrieError> {
    let mut changes = alloc_changes(&spec.genesis().alloc);
    let StateRootUpdate { state_root, nodes } =
        apply_state_changes(&MemoryNodeStore::default(), EMPTY_ROOT_HASH, &mut changes)?;
    let header = spec.genesis_header(state_root);
    let hash = header.hash_slow();
    Ok(GenesisState { header, hash, changes, trie_nodes: nodes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    fn mainnet_alloc() -> BTreeMap<Address, GenesisAccount> {
        let path =
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/genesis/mainnet_alloc.json");
        let json = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("mainnet alloc fixture {path} must exist: {e}"));
        serde_json::from_str(&json).expect("mainnet alloc parses")
    }

    #[test]
    fn mainnet_genesis_state_root_and_block_hash() {
        let alloc = mainnet_alloc();
        assert_eq!(alloc.len(), 8893);
        // Fields of geth's core.DefaultGenesisBlock (fixtures/genesis/README.txt).
        let genesis = keel_primitives::Genesis {
            config: Default::default(),
            nonce: 0x42,
            timestamp: 0,
            extra_data: alloy_primitives::hex!(
                "11bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82fa"
            )
            .into(),
            gas_limit: 5000,
            difficulty: U256::from(17_179_869_184u64),
            alloc,
            ..Default::default()
        };
        let spec = ChainSpec::new(genesis).unwrap();
        let state = genesis_state(&spec).unwrap();
        assert_eq!(
            state.header.state_root,
            b256!("d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544")
        );
        assert_eq!(state.hash, b256!("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"));
    }
}
