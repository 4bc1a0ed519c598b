//! BlockchainTests: blocks imported through keel's node path (`keel_node::Chain` over a `keel_store::Store`),
//! exactly as a node imports them: sender recovery, execution with the block's system calls and withdrawals,
//! every header check including the state root over the stored trie, the atomic commit, the flat state.

use crate::{
    fixture::{BlockTest, BlockTestFile, PreAccount},
    runner::genesis_alloc,
    Filter, Outcome, StatetestError,
};
use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::{Address, B256};
use keel_node::Chain;
use keel_primitives::{ChainSpec, Genesis, Hardfork};
use keel_store::Store;
use std::{collections::BTreeMap, path::Path};

/// One blockchain test's result.
#[derive(Debug, Clone)]
pub struct BlockTestResult {
    pub name: String,
    pub network: String,
    pub blocks: usize,
    pub outcome: Outcome,
    /// Head hash after the import.
    pub head: Option<B256>,
}

/// Runs every test of one BlockchainTests file. A file that cannot be read or parsed, or a block whose RLP does
/// not decode, is an error naming the file and the field.
pub fn run_block_file(path: &Path, filter: &Filter) -> Result<Vec<BlockTestResult>, StatetestError> {
    let file: BlockTestFile = crate::fixture::read(path)?;
    let mut results = Vec::new();
    for (name, test) in &file {
        if filter.name.as_ref().is_some_and(|re| !re.is_match(name)) {
            continue;
        }
        let fork = test.network.parse::<Hardfork>().ok();
        if filter.fork.is_some() && fork != filter.fork {
            continue;
        }
        // Decode every block first: malformed RLP is a broken fixture, not a failing test.
        let blocks = test
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                alloy_rlp::decode_exact::<Block<TxEnvelope>>(&b.rlp).map_err(|e| StatetestError::Malformed {
                    path: path.to_path_buf(),
                    field: format!("{name}.blocks[{i}].rlp"),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let outcome = match fork {
            None => {
                Outcome::Skipped(format!("network `{}` (fork transitions) is not supported", test.network))
            }
            Some(fork) if keel_evm::spec_id(fork).is_none() => {
                Outcome::Skipped(format!("fork {fork} is not executable"))
            }
            Some(fork) => match run_test(test, fork, &blocks, filter.stateless) {
                Ok(head) => {
                    results.push(BlockTestResult {
                        name: name.clone(),
                        network: test.network.clone(),
                        blocks: blocks.len(),
                        outcome: Outcome::Passed,
                        head: Some(head),
                    });
                    continue;
                }
                Err(reason) => Outcome::Failed(reason),
            },
        };
        results.push(BlockTestResult {
            name: name.clone(),
            network: test.network.clone(),
            blocks: blocks.len(),
            outcome,
            head: None,
        });
    }
    Ok(results)
}

/// A chain spec with every fork up to `fork` active from genesis, and the fixture's genesis header and alloc.
fn chain_spec(test: &BlockTest, fork: Hardfork) -> Result<ChainSpec, String> {
    let mut spec = keel_primitives::DevGenesis { hardfork: fork, chain_id: 1, ..Default::default() }
        .chain_spec()
        .map_err(|e| e.to_string())?;
    let h = &test.genesis_block_header;
    let small = |v: alloy_primitives::U256, field: &str| {
        u64::try_from(v).map_err(|_| format!("genesisBlockHeader.{field} exceeds 64 bits"))
    };
    let mut genesis: Genesis = spec.genesis().clone();
    genesis.alloc = genesis_alloc(&test.pre)?;
    genesis.coinbase = h.coinbase;
    genesis.difficulty = h.difficulty;
    genesis.extra_data = h.extra_data.clone();
    genesis.gas_limit = small(h.gas_limit, "gasLimit")?;
    genesis.mix_hash = h.mix_hash;
    genesis.nonce = u64::from_be_bytes(h.nonce.0);
    genesis.timestamp = small(h.timestamp, "timestamp")?;
    genesis.base_fee_per_gas =
        h.base_fee_per_gas.map(|v| small(v, "baseFeePerGas")).transpose()?.map(u128::from);
    genesis.blob_gas_used = h.blob_gas_used.map(|v| small(v, "blobGasUsed")).transpose()?;
    genesis.excess_blob_gas = h.excess_blob_gas.map(|v| small(v, "excessBlobGas")).transpose()?;
    if fork < Hardfork::Paris {
        genesis.config.terminal_total_difficulty = None;
        genesis.config.terminal_total_difficulty_passed = false;
    }
    spec = ChainSpec::new(genesis).map_err(|e| e.to_string())?;
    Ok(spec)
}

fn run_test(
    test: &BlockTest,
    fork: Hardfork,
    blocks: &[Block<TxEnvelope>],
    stateless: bool,
) -> Result<B256, String> {
    if fork < Hardfork::Paris {
        return Err(format!("pre-merge network {fork}: keel does not apply proof-of-work block rewards"));
    }
    let spec = chain_spec(test, fork)?;
    let spec_json = serde_json::to_string(spec.genesis()).map_err(|e| e.to_string())?;
    let chain_id = spec.chain_id();
    let witness_spec = spec.clone();
    let chain = Chain::open(spec, Store::memory()).map_err(|e| format!("genesis: {e}"))?;
    let genesis = chain.head().map_err(|e| e.to_string())?;
    if genesis.hash() != test.genesis_block_header.hash {
        return Err(format!(
            "genesis hash {} differs from genesisBlockHeader.hash {}",
            genesis.hash(),
            test.genesis_block_header.hash
        ));
    }
    for (i, (block, fixture)) in blocks.iter().zip(&test.blocks).enumerate() {
        match (chain.import(block), &fixture.expect_exception) {
            (Ok(_), None) | (Err(_), Some(_)) => {}
            (Ok(_), Some(expected)) => {
                return Err(format!("block {i} imported, but fixture expects {expected}"))
            }
            (Err(e), None) => return Err(format!("block {i}: {e}")),
        }
    }
    let head = chain.head().map_err(|e| e.to_string())?;
    if head.hash() != test.lastblockhash {
        return Err(format!("head {} differs from lastblockhash {}", head.hash(), test.lastblockhash));
    }
    if let Some(post) = &test.post_state {
        check_post_state(&chain, post)?;
    }
    let snapshot = chain.store().snapshot().map_err(|e| e.to_string())?;
    snapshot.check_state(head.state_root).map_err(|e| e.to_string())?;
    if stateless {
        judge_blocks(snapshot, witness_spec, head.number, chain_id, &spec_json)?;
    }
    Ok(head.hash())
}

/// Every canonical block after genesis, judged by the proof client against its own output root.
fn judge_blocks(
    snapshot: keel_store::StoreSnapshot,
    spec: ChainSpec,
    head: u64,
    chain_id: u64,
    spec_json: &str,
) -> Result<(), String> {
    let mut host = keel_proof::DatadirHost::new(snapshot).with_spec(spec);
    for number in 1..=head {
        let boot = host
            .boot_for_block(number, chain_id, spec_json.to_string(), None)
            .map_err(|e| format!("stateless block {number}: {e}"))?;
        let claimed = boot.claimed_output;
        let mut oracle = keel_proof::LoopbackOracle { host: &mut host, boot };
        match keel_proof::run_client(&mut oracle) {
            Ok(keel_proof::Verdict::Valid { output_root }) if output_root == claimed => {}
            Ok(verdict) => return Err(format!("stateless block {number}: {verdict:?}")),
            Err(e) => return Err(format!("stateless block {number}: {e}")),
        }
    }
    Ok(())
}

/// The head's flat state must hold exactly the fixture's `postState`.
fn check_post_state(chain: &Chain, post: &BTreeMap<Address, PreAccount>) -> Result<(), String> {
    let snapshot = chain.store().snapshot().map_err(|e| e.to_string())?;
    let check = snapshot
        .check_state(chain.head().map_err(|e| e.to_string())?.state_root)
        .map_err(|e| e.to_string())?;
    if check.accounts != post.len() {
        return Err(format!("head state has {} accounts, postState {}", check.accounts, post.len()));
    }
    for (address, expected) in post {
        let account =
            snapshot.account(*address).map_err(|e| e.to_string())?.ok_or(format!("{address} missing"))?;
        if account.balance != expected.balance
            || alloy_primitives::U256::from(account.nonce) != expected.nonce
        {
            return Err(format!(
                "{address}: balance/nonce {}/{} expected {}/{}",
                account.balance, account.nonce, expected.balance, expected.nonce
            ));
        }
        let code = snapshot.code(account.code_hash).map_err(|e| e.to_string())?.unwrap_or_default();
        if code != expected.code {
            return Err(format!("{address}: code differs"));
        }
        let slots = snapshot.storage_slots(*address).map_err(|e| e.to_string())?;
        let expected_slots: Vec<_> =
            expected.storage.iter().filter(|(_, v)| !v.is_zero()).map(|(k, v)| (*k, *v)).collect();
        if slots != expected_slots {
            return Err(format!("{address}: storage differs: {slots:?} expected {expected_slots:?}"));
        }
    }
    Ok(())
}
