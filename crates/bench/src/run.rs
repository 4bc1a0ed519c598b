//! Running a workload three ways (bare revm, keel's executor, keel's full import) and measuring gas per second.

use crate::{BenchError, Workload};
use alloy_consensus::{Block, Header, TxEnvelope};
use alloy_primitives::{Address, B256, U256};
use keel_evm::{
    spec_id, tx_env, BlockAttributes, BlockExecutor, ExecutionConfig, InOrder, RecoveredTx, TxOutcome,
};
use keel_node::Chain;
use keel_primitives::{ChainSpec, StateAccount};
use keel_store::{Store, Table};
use revm::{
    bytecode::Bytecode,
    context::{BlockEnv, CfgEnv, Context},
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
    ExecuteCommitEvm, MainBuilder, MainContext,
};
use std::time::{Duration, Instant};

/// One way of executing the workload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModeResult {
    pub mode: &'static str,
    /// Gas executed (the same in every mode).
    pub gas: u64,
    /// Median wall time over the repeats.
    pub seconds: f64,
    pub mgas_per_second: f64,
}

/// Everything one workload measured, in one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    pub workload: &'static str,
    pub blocks: usize,
    pub transactions: usize,
    pub repeats: usize,
    pub revm: ModeResult,
    pub execute: ModeResult,
    pub import: ModeResult,
    /// The same import into an encrypted datadir (`keel node --encrypt`).
    pub import_encrypted: ModeResult,
    /// How much slower the encrypted import is: 1 − encrypted Mgas/s ÷ plain Mgas/s.
    pub encryption_overhead: f64,
    /// import Mgas/s ÷ bare revm Mgas/s.
    pub import_over_revm: f64,
    /// execute Mgas/s ÷ bare revm Mgas/s.
    pub execute_over_revm: f64,
}

/// The workload's blocks, sealed by keel's builder, with the senders the builder recovered.
struct Prepared {
    spec: ChainSpec,
    setup: Vec<Block<TxEnvelope>>,
    blocks: Vec<(Block<TxEnvelope>, Vec<RecoveredTx>)>,
    /// The state after the setup blocks, for bare revm.
    revm_state: CacheDB<EmptyDB>,
    gas: u64,
}

fn attributes(spec: &ChainSpec, parent: &Header) -> BlockAttributes {
    BlockAttributes {
        timestamp: parent.timestamp + 12,
        beneficiary: Address::repeat_byte(0xc0),
        gas_limit: spec.genesis().gas_limit,
        prev_randao: B256::from(U256::from(parent.number + 1)),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    }
}

pub(crate) fn build(chain: &Chain, txs: &[RecoveredTx]) -> Result<Block<TxEnvelope>, BenchError> {
    let head = chain.head()?;
    let outcome = chain.build(&attributes(chain.spec(), head.inner()), &mut InOrder(txs.iter().cloned()))?;
    if let Some((hash, reason)) = outcome.rejected.first() {
        return Err(BenchError::Setup(format!("workload transaction {hash} rejected: {reason}")));
    }
    // A reverted transaction would still be included; the workload must do the work it claims.
    if let Some(index) = outcome.executed.receipts.iter().position(|r| !r.success) {
        return Err(BenchError::Setup(format!(
            "workload transaction {index} of block {} reverted",
            outcome.block.header.number
        )));
    }
    Ok(outcome.block)
}

/// The flat head state of `store` as a revm in-memory database.
fn revm_state(store: &Store) -> Result<CacheDB<EmptyDB>, BenchError> {
    let snapshot = store.snapshot()?;
    let mut accounts = Vec::new();
    snapshot.kv().scan_prefix(Table::Accounts, &[], &mut |key, value| {
        accounts.push((Address::from_slice(key), value.to_vec()));
        true
    })?;
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, raw) in accounts {
        let account: StateAccount = alloy_rlp::decode_exact(&raw)
            .map_err(|e| BenchError::Setup(format!("account {address}: {e}")))?;
        let code = snapshot.code(account.code_hash)?.unwrap_or_default();
        db.insert_account_info(
            address,
            AccountInfo::new(account.balance, account.nonce, account.code_hash, Bytecode::new_raw(code)),
        );
        for (slot, value) in snapshot.storage_slots(address)? {
            db.insert_account_storage(address, slot, value).map_err(|e| BenchError::Revm(e.to_string()))?;
        }
    }
    Ok(db)
}

fn prepare(workload: &Workload) -> Result<Prepared, BenchError> {
    let spec = workload.genesis.chain_spec().map_err(|e| BenchError::Setup(e.to_string()))?;
    let chain = Chain::open(spec.clone(), Store::memory())?;
    let setup = workload.setup.iter().map(|txs| build(&chain, txs)).collect::<Result<Vec<_>, _>>()?;
    let revm_state = revm_state(chain.store())?;
    let mut blocks = Vec::new();
    let mut gas = 0;
    for txs in &workload.blocks {
        let block = build(&chain, txs)?;
        gas += block.header.gas_used;
        blocks.push((block, txs.clone()));
    }
    Ok(Prepared { spec, setup, blocks, revm_state, gas })
}

/// (a) bare revm: the same transactions, senders known, over an in-memory database.
fn run_revm(prepared: &Prepared) -> Result<(Duration, u64), BenchError> {
    let mut db = prepared.revm_state.clone();
    let mut gas = 0;
    let start = Instant::now();
    for (block, txs) in &prepared.blocks {
        let header = &block.header;
        let spec = spec_id(prepared.spec.fork_at(header.number, header.timestamp))
            .ok_or_else(|| BenchError::Revm("fork not executable".into()))?;
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = prepared.spec.chain_id();
        let env = BlockEnv {
            number: U256::from(header.number),
            beneficiary: header.beneficiary,
            timestamp: U256::from(header.timestamp),
            gas_limit: header.gas_limit,
            basefee: header.base_fee_per_gas.unwrap_or_default(),
            prevrandao: Some(header.mix_hash),
            ..Default::default()
        };
        let mut evm = Context::mainnet().with_db(&mut db).with_cfg(cfg).with_block(env).build_mainnet();
        for tx in txs {
            let result = evm
                .transact_commit(tx_env(&tx.tx, tx.sender))
                .map_err(|e| BenchError::Revm(e.to_string()))?;
            gas += result.tx_gas_used();
        }
    }
    Ok((start.elapsed(), gas))
}

/// A fresh chain in a temporary redb datadir, with the setup blocks imported.
fn fresh_chain(prepared: &Prepared) -> Result<(tempfile::TempDir, Chain), BenchError> {
    fresh_chain_with(prepared, None)
}

/// [`fresh_chain`], encrypted with `key` if given.
fn fresh_chain_with(
    prepared: &Prepared,
    key: Option<keel_store::DbKey>,
) -> Result<(tempfile::TempDir, Chain), BenchError> {
    let dir = tempfile::tempdir()?;
    let store = Store::open_opts(dir.path(), &keel_store::OpenOptions { key, ..Default::default() })?;
    let chain = Chain::open(prepared.spec.clone(), store)?;
    for block in &prepared.setup {
        chain.import(block)?;
    }
    Ok((dir, chain))
}

/// (b) keel's executor over the redb head state: system calls and transactions, no state root, no commit.
fn run_execute(prepared: &Prepared) -> Result<(Duration, u64), BenchError> {
    let (_dir, chain) = fresh_chain(prepared)?;
    let mut elapsed = Duration::ZERO;
    let mut gas = 0;
    for (block, txs) in &prepared.blocks {
        let (_, state) = chain.head_state()?;
        let start = Instant::now();
        let config = ExecutionConfig::for_header(&prepared.spec, &block.header);
        let mut executor = BlockExecutor::new(config, &block.header, state)?;
        executor.apply_pre_block_calls()?;
        for tx in txs {
            if let TxOutcome::Rejected { reason } = executor.execute_transaction(tx)? {
                return Err(BenchError::Setup(format!("transaction {} rejected: {reason}", tx.hash)));
            }
        }
        let changes = executor.state_changes();
        elapsed += start.elapsed();
        gas += executor.gas_used();
        drop(changes);
        chain.import(block)?;
    }
    Ok((elapsed, gas))
}

/// (c) keel's full import: recovery, execution, header checks incl. state root, redb commit.
fn run_import(prepared: &Prepared) -> Result<(Duration, u64), BenchError> {
    import_into(prepared, fresh_chain(prepared)?)
}

/// (d) the same import into an encrypted datadir.
fn run_import_encrypted(prepared: &Prepared) -> Result<(Duration, u64), BenchError> {
    import_into(prepared, fresh_chain_with(prepared, Some(keel_store::DbKey::from_bytes([0x5e; 32])))?)
}

fn import_into(
    prepared: &Prepared,
    (_dir, chain): (tempfile::TempDir, Chain),
) -> Result<(Duration, u64), BenchError> {
    let mut gas = 0;
    let start = Instant::now();
    for (block, _) in &prepared.blocks {
        gas += chain.import(block)?.executed.gas_used;
    }
    Ok((start.elapsed(), gas))
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn mode(name: &'static str, gas: u64, samples: Vec<Duration>) -> ModeResult {
    let seconds = median(samples).as_secs_f64();
    ModeResult { mode: name, gas, seconds, mgas_per_second: gas as f64 / seconds / 1e6 }
}

/// Runs `workload` in all three modes, `repeats` times each (interleaved, so machine noise hits all modes alike),
/// and reports the median of each. Fails if any mode executed a different amount of gas than the builder did.
pub fn run(workload: &Workload, repeats: usize) -> Result<BenchReport, BenchError> {
    let repeats = repeats.max(1);
    let prepared = prepare(workload)?;
    let (mut revm, mut execute, mut import, mut encrypted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats {
        for (samples, runner) in [
            (&mut revm, run_revm as fn(&Prepared) -> Result<(Duration, u64), BenchError>),
            (&mut execute, run_execute),
            (&mut import, run_import),
            (&mut encrypted, run_import_encrypted),
        ] {
            let (elapsed, gas) = runner(&prepared)?;
            if gas != prepared.gas {
                return Err(BenchError::Setup(format!(
                    "a mode executed {gas} gas, the blocks hold {}",
                    prepared.gas
                )));
            }
            samples.push(elapsed);
        }
    }
    let revm = mode("revm", prepared.gas, revm);
    let execute = mode("execute", prepared.gas, execute);
    let import = mode("import", prepared.gas, import);
    let import_encrypted = mode("import-encrypted", prepared.gas, encrypted);
    Ok(BenchReport {
        workload: workload.kind.name(),
        blocks: prepared.blocks.len(),
        transactions: prepared.blocks.iter().map(|(b, _)| b.body.transactions.len()).sum(),
        repeats,
        import_over_revm: import.mgas_per_second / revm.mgas_per_second,
        encryption_overhead: 1.0 - import_encrypted.mgas_per_second / import.mgas_per_second,
        import_encrypted,
        execute_over_revm: execute.mgas_per_second / revm.mgas_per_second,
        revm,
        execute,
        import,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorkloadKind;

    /// Every mode runs every workload to the same gas (checked inside `run`), and the ERC-20 and storage
    /// contracts really do their work: their transactions succeed and change state.
    #[test]
    fn all_modes_execute_the_same_blocks() {
        for kind in WorkloadKind::ALL {
            let workload = Workload::new(kind, 1).unwrap();
            let report = run(&workload, 1).unwrap();
            assert_eq!(report.blocks, 1);
            assert!(report.transactions > 10 || kind == WorkloadKind::Storage, "{report:?}");
            assert!(report.revm.gas > 10_000_000, "{kind:?}: {report:?}");
            assert_eq!(report.revm.gas, report.import.gas);
        }
    }

    #[test]
    fn erc20_transfers_move_tokens() {
        let workload = Workload::new(WorkloadKind::Erc20, 1).unwrap();
        let prepared = prepare(&workload).unwrap();
        // Each transfer emits exactly one Transfer event from the token contract.
        let (block, _) = &prepared.blocks[0];
        let chain = Chain::open(prepared.spec.clone(), Store::memory()).unwrap();
        for setup in &prepared.setup {
            chain.import(setup).unwrap();
        }
        let imported = chain.import(block).unwrap();
        let transfer_topic = alloy_primitives::keccak256("Transfer(address,address,uint256)");
        for receipt in &imported.executed.receipts {
            assert!(receipt.success);
            assert_eq!(receipt.logs.len(), 1);
            assert_eq!(receipt.logs[0].topics()[0], transfer_topic);
        }
    }
}
