//! `keel bench-policy`: what the sandbox policy costs on a call-heavy workload. The same transactions (each makes
//! `calls` CALLs from `Plugin` to `Target.ping()`, contracts/Plugin.sol and Target.sol) are executed over the same
//! state three ways, interleaved, median of the repeats:
//! - **no policy**: the hooks are not installed (revm's own instruction table);
//! - **other rules**: a policy whose rules name other contracts: every hooked opcode looks its frame up and finds
//!   nothing — the cost a contract without a rule pays; and the same with one of the rules inherited by what its
//!   subject creates, so every frame's inheritance is looked up too;
//! - **confined**: `Plugin` itself has a rule (a call allow-list naming `Target`, no value, denied opcodes): every
//!   one of its calls is checked.

use crate::{
    contracts,
    run::{build, median},
    workload::Signers,
    BenchError,
};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use keel_evm::{keel_policy::Policy, BlockExecutor, ExecutionConfig, RecoveredTx, TxOutcome};
use keel_node::Chain;
use keel_primitives::DevGenesis;
use keel_store::Store;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// One configuration's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyMode {
    pub mode: &'static str,
    pub seconds: f64,
    pub mgas_per_second: f64,
}

/// What `keel bench-policy` measured, in one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyReport {
    pub transactions: usize,
    pub calls_per_transaction: usize,
    pub gas: u64,
    pub repeats: usize,
    pub no_policy: PolicyMode,
    pub other_rules: PolicyMode,
    /// The same rules, one of them inherited by what its subject creates: every frame's inheritance is then looked
    /// up (in state, once per contract and block).
    pub inherited_rules: PolicyMode,
    pub confined: PolicyMode,
    /// other-rules time ÷ no-policy time − 1.
    pub other_rules_overhead: f64,
    /// The same with one inherited rule.
    pub inherited_rules_overhead: f64,
    /// Extra time per call when the caller is confined, in nanoseconds.
    pub confined_ns_per_call: f64,
    /// One CALL with its callee's work, unconfined, in nanoseconds (for scale).
    pub plain_ns_per_call: f64,
}

fn selector(signature: &str) -> Vec<u8> {
    keccak256(signature)[..4].to_vec()
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

fn other_rules(with_inheritance: bool) -> Result<Policy, BenchError> {
    let mut text = String::new();
    for i in 1..=8u64 {
        let mut bytes = [0u8; 20];
        bytes[0] = 0xee;
        bytes[12..].copy_from_slice(&i.to_be_bytes());
        let inherit = if i == 1 && with_inheritance { "inherit = true\n" } else { "" };
        text.push_str(&format!(
            "[[rule]]\naddress = \"{}\"\n{inherit}deny = [\"SELFDESTRUCT\", \"DELEGATECALL\"]\n[rule.calls]\nallow = [\"{}\"]\n",
            Address::from(bytes),
            Address::ZERO
        ));
    }
    Policy::from_toml("bench (other rules)", &text).map_err(|e| BenchError::Setup(e.to_string()))
}

fn confining(plugin: Address, target: Address) -> Result<Policy, BenchError> {
    let text = format!(
        "[[rule]]\nname = \"plugin\"\naddress = \"{plugin}\"\ndeny = [\"SELFDESTRUCT\", \"DELEGATECALL\", \"CREATE2\"]\n[rule.calls]\nallow = [\"{target}\"]\nvalue = false\n[rule.limits]\nmax_depth = 8\n"
    );
    Policy::from_toml("bench (confined)", &text).map_err(|e| BenchError::Setup(e.to_string()))
}

/// Runs the benchmark: `transactions` transactions of `calls` calls each, `repeats` times per mode.
pub fn bench_policy(transactions: usize, calls: usize, repeats: usize) -> Result<PolicyReport, BenchError> {
    let genesis = DevGenesis::default();
    let spec = genesis.chain_spec().map_err(|e| BenchError::Setup(e.to_string()))?;
    let accounts = genesis.dev_accounts().map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut signers = Signers::new(genesis.chain_id, accounts)?;
    let deployer = signers.address(0);
    let setup = vec![
        signers.sign(0, TxKind::Create, U256::ZERO, contracts::bytecode("Target")?, 1_000_000)?,
        signers.sign(0, TxKind::Create, U256::ZERO, contracts::bytecode("Plugin")?, 3_000_000)?,
    ];
    let (target, plugin) = (deployer.create(0), deployer.create(1));
    let mut data = selector("callMany(address,uint256)");
    data.extend_from_slice(&word(U256::from_be_slice(target.as_slice())));
    data.extend_from_slice(&word(U256::from(calls)));
    let senders = 10;
    let txs: Vec<RecoveredTx> = (0..transactions)
        .map(|i| {
            signers.sign(i % senders, TxKind::Call(plugin), U256::ZERO, Bytes::from(data.clone()), 5_000_000)
        })
        .collect::<Result<_, _>>()?;

    // The block, built (and so checked) once; then executed over the post-setup state of a fresh chain.
    let builder = Chain::open(spec.clone(), Store::memory())?;
    build(&builder, &setup)?;
    let block = build(&builder, &txs)?;
    let chain = Chain::open(spec.clone(), Store::memory())?;
    build(&chain, &setup)?;

    let modes: [(&'static str, Option<Arc<Policy>>); 4] = [
        ("no policy", None),
        ("other rules", Some(Arc::new(other_rules(false)?))),
        ("other rules, one inherited", Some(Arc::new(other_rules(true)?))),
        ("confined", Some(Arc::new(confining(plugin, target)?))),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    for _ in 0..repeats.max(1) {
        for (i, (_, policy)) in modes.iter().enumerate() {
            let (_, state) = chain.head_state()?;
            let config = ExecutionConfig {
                policy: policy.clone(),
                ..ExecutionConfig::for_header(&spec, &block.header)
            };
            let start = Instant::now();
            let mut executor = BlockExecutor::new(config, &block.header, state)?;
            executor.apply_pre_block_calls()?;
            for tx in &txs {
                match executor.execute_transaction(tx)? {
                    TxOutcome::Included { receipt, .. } if receipt.success => {}
                    other => {
                        return Err(BenchError::Setup(format!("policy bench transaction failed: {other:?}")))
                    }
                }
            }
            samples[i].push(start.elapsed());
            if executor.gas_used() != block.header.gas_used {
                return Err(BenchError::Setup(format!(
                    "mode {} used {} gas, the block {}",
                    modes[i].0,
                    executor.gas_used(),
                    block.header.gas_used
                )));
            }
        }
    }
    let gas = block.header.gas_used;
    let result = |i: usize| {
        let seconds = median(samples[i].clone()).as_secs_f64();
        PolicyMode { mode: modes[i].0, seconds, mgas_per_second: gas as f64 / seconds / 1e6 }
    };
    let (none, other, inherited, confined) = (result(0), result(1), result(2), result(3));
    let total_calls = (transactions * calls) as f64;
    Ok(PolicyReport {
        transactions,
        calls_per_transaction: calls,
        gas,
        repeats: repeats.max(1),
        other_rules_overhead: other.seconds / none.seconds - 1.0,
        inherited_rules_overhead: inherited.seconds / none.seconds - 1.0,
        confined_ns_per_call: (confined.seconds - none.seconds) / total_calls * 1e9,
        plain_ns_per_call: none.seconds / total_calls * 1e9,
        no_policy: none,
        other_rules: other,
        inherited_rules: inherited,
        confined,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::unwrap_used)]
    fn every_mode_executes_the_same_block() {
        // (Gas equality and success of every transaction in every mode are checked inside.)
        let report = super::bench_policy(3, 5, 1).unwrap();
        assert_eq!(report.transactions * report.calls_per_transaction, 15);
        assert!(report.gas > 0);
    }
}
