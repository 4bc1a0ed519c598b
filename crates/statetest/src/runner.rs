use crate::{
    fixture::{PostEntry, StateTest, StateTestFile},
    StatetestError,
};
use alloy_consensus::{Header, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{keccak256, Address, B256, U256};
use keel_evm::{
    alloc_changes, apply_state_changes, logs_hash, BlockExecutor, ExecutionConfig, ProviderError,
    RecoveredTx, TrieState, TxOutcome,
};
use keel_primitives::{GenesisAccount, Hardfork, EMPTY_ROOT_HASH};
use keel_trie::MemoryNodeStore;
use regex::Regex;
use std::{collections::BTreeMap, path::Path};

/// Which subtests to run.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this fork (others are not run and not counted).
    pub fork: Option<Hardfork>,
    /// Only tests whose name matches.
    pub name: Option<Regex>,
    /// BlockchainTests: after the import, also judge every block with the fault-proof client (the host serving
    /// the pre-state built from the fixture).
    pub stateless: bool,
    /// Run with this sandbox policy loaded (its hooks installed): a policy without rules for the fixtures'
    /// contracts must not change any result.
    pub policy: Option<std::sync::Arc<keel_evm::keel_policy::Policy>>,
}

/// How one subtest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
    /// Not run, with the reason (a fork keel cannot execute, a known fixture limitation).
    Skipped(String),
}

/// One `post[fork][i]` entry's result.
#[derive(Debug, Clone)]
pub struct SubtestResult {
    pub name: String,
    pub fork: String,
    pub data: usize,
    pub gas: usize,
    pub value: usize,
    pub outcome: Outcome,
    pub state_root: Option<B256>,
    pub logs_hash: Option<B256>,
}

/// Tests whose pre-state gives an account storage without code or nonce and then creates a contract at that
/// address. EIP-7610 makes such a creation collide, but revm decides collisions from nonce and code alone and
/// cannot see the storage, so these cannot pass on any revm-based executor. revm's own runner skips them too.
const STORAGE_COLLISION_TESTS: &[&str] = &[
    "RevertInCreateInInit_Paris",
    "RevertInCreateInInit",
    "dynamicAccountOverwriteEmpty",
    "dynamicAccountOverwriteEmpty_Paris",
    "RevertInCreateInInitCreate2Paris",
    "create2collisionStorage",
    "RevertInCreateInInitCreate2",
    "create2collisionStorageParis",
    "InitCollision",
    "InitCollisionParis",
];

/// Runs every subtest of one fixture file. A file that cannot be read or parsed is an error (the caller
/// reports it as a failure naming the file and field).
pub fn run_file(path: &Path, filter: &Filter) -> Result<Vec<SubtestResult>, StatetestError> {
    let file: StateTestFile = crate::fixture::read(path)?;
    let mut results = Vec::new();
    for (name, test) in &file {
        if filter.name.as_ref().is_some_and(|re| !re.is_match(name)) {
            continue;
        }
        results.extend(run_unit(path, name, test, filter)?);
    }
    Ok(results)
}

/// The pre-state of a test, built into keel's trie once and shared by all its subtests.
struct PreState {
    root: B256,
    nodes: MemoryNodeStore,
    codes: MemoryNodeStore,
}

/// A fixture's `pre` as a genesis allocation.
pub(crate) fn genesis_alloc(
    pre: &BTreeMap<Address, crate::fixture::PreAccount>,
) -> Result<BTreeMap<Address, GenesisAccount>, String> {
    pre.iter()
        .map(|(address, a)| {
            let nonce = u64::try_from(a.nonce).map_err(|_| format!("pre.{address}.nonce exceeds 64 bits"))?;
            let account = GenesisAccount {
                nonce: Some(nonce),
                balance: a.balance,
                code: Some(a.code.clone()),
                storage: Some(a.storage.iter().map(|(k, v)| (B256::from(*k), B256::from(*v))).collect()),
                ..Default::default()
            };
            Ok((*address, account))
        })
        .collect()
}

fn build_pre_state(test: &StateTest) -> Result<PreState, String> {
    let alloc = genesis_alloc(&test.pre)?;
    let mut changes = alloc_changes(&alloc);
    let update = apply_state_changes(&MemoryNodeStore::default(), EMPTY_ROOT_HASH, &mut changes)
        .map_err(|e| e.to_string())?;
    let mut nodes = MemoryNodeStore::default();
    nodes.insert_batch(update.nodes);
    let mut codes = MemoryNodeStore::default();
    codes.insert_batch(changes.new_code);
    Ok(PreState { root: update.state_root, nodes, codes })
}

/// BLOCKHASH in state tests: keccak256 of the block number's decimal string.
fn test_block_hash(number: u64) -> Result<B256, ProviderError> {
    Ok(keccak256(number.to_string().as_bytes()))
}

fn u64_field(value: U256, field: &str) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("env.{field} exceeds 64 bits"))
}

fn header_for(test: &StateTest, fork: Hardfork) -> Result<Header, String> {
    let env = &test.env;
    Ok(Header {
        number: u64_field(env.current_number, "currentNumber")?,
        beneficiary: env.current_coinbase,
        timestamp: u64_field(env.current_timestamp, "currentTimestamp")?,
        gas_limit: u64_field(env.current_gas_limit, "currentGasLimit")?,
        base_fee_per_gas: if fork >= Hardfork::London {
            Some(u64_field(env.current_base_fee.unwrap_or(U256::from(10)), "currentBaseFee")?)
        } else {
            None
        },
        difficulty: env.current_difficulty.unwrap_or_default(),
        mix_hash: env.current_random.unwrap_or_default(),
        excess_blob_gas: match env.current_excess_blob_gas {
            Some(e) if fork >= Hardfork::Cancun => Some(u64_field(e, "currentExcessBlobGas")?),
            _ => (fork >= Hardfork::Cancun).then_some(0),
        },
        ..Default::default()
    })
}

/// Runs every selected subtest of one named test.
pub fn run_unit(
    path: &Path,
    name: &str,
    test: &StateTest,
    filter: &Filter,
) -> Result<Vec<SubtestResult>, StatetestError> {
    let mut pre: Option<PreState> = None;
    let chain_id = match test.config.as_ref().and_then(|c| c.chainid) {
        Some(id) => u64::try_from(id).map_err(|_| StatetestError::Malformed {
            path: path.to_path_buf(),
            field: format!("{name}.config.chainid"),
            reason: "exceeds 64 bits".into(),
        })?,
        None => 1,
    };
    let mut results = Vec::new();
    for (fork_name, entries) in &test.post {
        let fork: Option<Hardfork> = fork_name.parse().ok();
        if let (Some(wanted), Some(f)) = (filter.fork, fork) {
            if wanted != f {
                continue;
            }
        }
        for entry in entries {
            let mut result = SubtestResult {
                name: name.to_string(),
                fork: fork_name.clone(),
                data: entry.indexes.data,
                gas: entry.indexes.gas,
                value: entry.indexes.value,
                outcome: Outcome::Passed,
                state_root: None,
                logs_hash: None,
            };
            let skip = match fork {
                None => Some(format!("unknown fork {fork_name}")),
                Some(Hardfork::Constantinople) => {
                    Some("Constantinople (superseded by ConstantinopleFix before activation; revm has no such spec)".into())
                }
                Some(_) if STORAGE_COLLISION_TESTS.contains(&name) => Some(
                    "EIP-7610 collision with pre-existing storage: revm cannot see storage when checking collisions"
                        .into(),
                ),
                Some(_) => None,
            };
            if let Some(reason) = skip {
                result.outcome = Outcome::Skipped(reason);
                results.push(result);
                continue;
            }
            let fork = fork.unwrap_or(Hardfork::LATEST);
            if pre.is_none() {
                pre = Some(build_pre_state(test).map_err(|reason| StatetestError::PreState {
                    path: path.to_path_buf(),
                    test: name.to_string(),
                    reason,
                })?);
            }
            let Some(pre) = pre.as_ref() else { continue };
            match run_subtest(test, pre, fork, chain_id, entry, filter.policy.clone()) {
                Ok((root, logs)) => {
                    result.state_root = Some(root);
                    result.logs_hash = Some(logs);
                    let mut problems = Vec::new();
                    if root != entry.hash {
                        problems.push(format!("state root {root} != expected {}", entry.hash));
                    }
                    if logs != entry.logs {
                        problems.push(format!("logs hash {logs} != expected {}", entry.logs));
                    }
                    if !problems.is_empty() {
                        result.outcome = Outcome::Failed(problems.join("; "));
                    }
                }
                Err(e) => result.outcome = Outcome::Failed(e),
            }
            results.push(result);
        }
    }
    Ok(results)
}

/// Executes one subtest; returns (state root, logs hash) or a failure description.
fn run_subtest(
    test: &StateTest,
    pre: &PreState,
    fork: Hardfork,
    chain_id: u64,
    entry: &PostEntry,
    policy: Option<std::sync::Arc<keel_evm::keel_policy::Policy>>,
) -> Result<(B256, B256), String> {
    let header = header_for(test, fork)?;
    let expected_exception = entry.expect_exception.as_deref();
    // Decoding and signature recovery are part of validation: a fixture that expects an exception may carry a
    // transaction that fails already here.
    let tx = match decode_tx(&entry.txbytes) {
        Ok(tx) => tx,
        Err(reason) => {
            return match expected_exception {
                Some(_) => Ok((pre.root, logs_hash(&[]))),
                None => Err(format!("transaction rejected: {reason}")),
            };
        }
    };
    let provider = TrieState::new(pre.root, &pre.nodes, &pre.codes, test_block_hash);
    let config = ExecutionConfig { chain_id, fork, policy };
    let mut executor = BlockExecutor::new(config, &header, provider).map_err(|e| e.to_string())?;
    let outcome = executor.execute_transaction(&tx).map_err(|e| format!("executor error: {e}"))?;
    let logs = match (&outcome, expected_exception) {
        (TxOutcome::Included { receipt, .. }, None) => logs_hash(&receipt.logs),
        (TxOutcome::Rejected { .. }, Some(_)) => logs_hash(&[]),
        (TxOutcome::Included { .. }, Some(expected)) => {
            return Err(format!("expected exception {expected}, but the transaction was included"));
        }
        (TxOutcome::Rejected { reason }, None) => return Err(format!("transaction rejected: {reason}")),
    };
    let executed = executor.finish(pre.root, None).map_err(|e| format!("executor error: {e}"))?;
    Ok((executed.state_root, logs))
}

fn decode_tx(bytes: &[u8]) -> Result<RecoveredTx, String> {
    let mut buf = bytes;
    let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| format!("undecodable transaction: {e}"))?;
    if !buf.is_empty() {
        return Err(format!("{} trailing bytes after the transaction", buf.len()));
    }
    RecoveredTx::recover(tx, 0).map_err(|e| e.to_string())
}
