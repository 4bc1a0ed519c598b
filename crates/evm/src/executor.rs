use crate::{
    blob_params,
    db::BlockState,
    fork::GAS_PER_BLOB,
    logs_bloom, ordered_trie_root,
    sandbox::Sandbox,
    spec_id,
    state_root::{apply_state_changes, StateRootUpdate},
    tx_env, EvmError, ProviderError, RecoveredTx, StateChanges, StateProvider,
};
use alloy_consensus::{Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxType};
use alloy_eips::{eip4895::Withdrawal, eip7685::Requests, Typed2718};
use alloy_primitives::{Address, Bloom, Bytes, Log, B256, U256};
use keel_primitives::{system, ChainSpec, Hardfork};
use revm::{
    context::{
        result::{EVMError, ExecutionResult, HaltReason},
        BlockEnv, CfgEnv, Context, TxEnv,
    },
    context_interface::block::BlobExcessGasAndPrice,
    DatabaseCommit, ExecuteCommitEvm, ExecuteEvm, InspectCommitEvm, InspectEvm, MainBuilder, MainContext,
    SystemCallEvm,
};

/// What the executor needs to know about the chain for one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionConfig {
    pub chain_id: u64,
    pub fork: Hardfork,
    /// The chain's sandbox policy: when set, the hooked opcodes enforce it (`crate::sandbox`).
    pub policy: Option<std::sync::Arc<keel_policy::Policy>>,
}

impl ExecutionConfig {
    /// The configuration for a block with this header on this chain.
    pub fn for_header(spec: &ChainSpec, header: &Header) -> Self {
        Self {
            chain_id: spec.chain_id(),
            fork: spec.fork_at(header.number, header.timestamp),
            policy: spec.policy().cloned(),
        }
    }

    /// A configuration without a sandbox policy.
    pub fn new(chain_id: u64, fork: Hardfork) -> Self {
        Self { chain_id, fork, policy: None }
    }
}

/// The receipt of one included transaction, before it is typed into an Ethereum receipt envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxReceipt {
    pub tx_type: TxType,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub logs: Vec<Log>,
    pub contract_address: Option<Address>,
}

impl TxReceipt {
    /// The consensus receipt (status, cumulative gas, bloom, logs) in its EIP-2718 envelope.
    pub fn envelope(&self) -> ReceiptEnvelope {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let bloom = logs_bloom(&self.logs);
        let with_bloom = ReceiptWithBloom::new(receipt, bloom);
        match self.tx_type {
            TxType::Legacy => ReceiptEnvelope::Legacy(with_bloom),
            TxType::Eip2930 => ReceiptEnvelope::Eip2930(with_bloom),
            TxType::Eip1559 => ReceiptEnvelope::Eip1559(with_bloom),
            TxType::Eip4844 => ReceiptEnvelope::Eip4844(with_bloom),
            TxType::Eip7702 => ReceiptEnvelope::Eip7702(with_bloom),
        }
    }
}

/// The outcome of offering one transaction to the block.
#[derive(Debug, Clone)]
pub enum TxOutcome {
    /// Included: it ran (successfully, reverted or halted) and has a receipt.
    Included { result: ExecutionResult<HaltReason>, receipt: TxReceipt },
    /// Not includable (bad nonce, insufficient funds, over the block's gas, …); state is unchanged.
    Rejected { reason: String },
}

/// Everything a block's execution produced.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    pub receipts: Vec<TxReceipt>,
    pub gas_used: u64,
    pub blob_gas_used: u64,
    pub logs_bloom: Bloom,
    pub receipts_root: B256,
    pub state_root: B256,
    /// EIP-7685 requests hash (Prague and later).
    pub requests_hash: Option<B256>,
    pub requests: Requests,
    pub changes: StateChanges,
    /// New trie nodes to persist with the block.
    pub trie_nodes: Vec<(B256, Bytes)>,
}

/// revm's mainnet context with keel's [`Sandbox`] in its `chain` slot.
pub type KeelContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, revm::Journal<DB>, Sandbox>;

type Evm<P, I> = revm::context::Evm<
    KeelContext<BlockState<P>>,
    I,
    revm::handler::instructions::EthInstructions<
        revm::interpreter::interpreter::EthInterpreter,
        KeelContext<BlockState<P>>,
    >,
    crate::sandbox::KeelPrecompiles,
    revm::handler::EthFrame<revm::interpreter::interpreter::EthInterpreter>,
>;

/// The revm context a [`BlockExecutor`] runs in; inspectors (tracers) are written against it.
pub type ExecutorContext<P> = KeelContext<BlockState<P>>;

/// Executes one block on top of the state a [`StateProvider`] serves: pre-block system calls, transactions,
/// withdrawals, post-block requests, then the state root. Used by block import, block building, the state-test
/// runner and the proof client alike.
///
/// `I` is an optional revm inspector (tracers use it through [`BlockExecutor::inspect_transaction`] and
/// [`BlockExecutor::simulate_inspect`]); block import and building use none.
#[derive(Debug)]
pub struct BlockExecutor<P: StateProvider, I = ()> {
    config: ExecutionConfig,
    header: Header,
    evm: Evm<P, I>,
    receipts: Vec<TxReceipt>,
    cumulative_gas: u64,
    blob_gas_used: u64,
}

impl<P: StateProvider> BlockExecutor<P> {
    /// An executor for a block with the env fields of `header` (number, timestamp, beneficiary, gas limit, base
    /// fee, difficulty / prevrandao, excess blob gas, parent beacon root, parent hash).
    pub fn new(config: ExecutionConfig, header: &Header, provider: P) -> Result<Self, EvmError> {
        Self::with_inspector(config, header, provider, ())
    }

    /// An executor for `eth_call` / `eth_estimateGas` (see [`BlockExecutor::for_call_with_inspector`]).
    pub fn for_call(config: ExecutionConfig, header: &Header, provider: P) -> Result<Self, EvmError> {
        Self::for_call_with_inspector(config, header, provider, ())
    }
}

impl<P: StateProvider, I> BlockExecutor<P, I> {
    /// [`BlockExecutor::new`] with an inspector attached.
    pub fn with_inspector(
        config: ExecutionConfig,
        header: &Header,
        provider: P,
        inspector: I,
    ) -> Result<Self, EvmError> {
        let spec = spec_id(config.fork)
            .ok_or_else(|| EvmError::InvalidBlock(format!("fork {} is not executable", config.fork)))?;
        let mut cfg = CfgEnv::new_with_spec(spec);
        cfg.chain_id = config.chain_id;
        let blobs = blob_params(config.fork);
        if let Some(b) = blobs {
            cfg.set_max_blobs_per_tx(b.max_blobs_per_tx);
        }
        let post_merge = config.fork >= Hardfork::Paris;
        let block = BlockEnv {
            number: U256::from(header.number),
            beneficiary: header.beneficiary,
            timestamp: U256::from(header.timestamp),
            gas_limit: header.gas_limit,
            basefee: header.base_fee_per_gas.unwrap_or_default(),
            difficulty: if post_merge { U256::ZERO } else { header.difficulty },
            prevrandao: post_merge.then_some(header.mix_hash),
            blob_excess_gas_and_price: match (blobs, header.excess_blob_gas) {
                (Some(b), Some(excess)) => Some(BlobExcessGasAndPrice::new(excess, b.update_fraction as u64)),
                (Some(b), None) => Some(BlobExcessGasAndPrice::new(0, b.update_fraction as u64)),
                _ => None,
            },
            ..Default::default()
        };
        let policy = config.policy.clone();
        let mut evm = Context::mainnet()
            .with_db(BlockState::new(provider))
            .with_cfg(cfg)
            .with_block(block)
            .with_chain(Sandbox::new(policy.clone()))
            .build_mainnet_with_inspector(inspector)
            .with_precompiles(crate::sandbox::KeelPrecompiles::new(spec, policy.is_some()));
        if policy.is_some() {
            crate::sandbox::install(evm.instruction.instruction_table_mut());
        }
        Ok(Self {
            config,
            header: header.clone(),
            evm,
            receipts: Vec::new(),
            cumulative_gas: 0,
            blob_gas_used: 0,
        })
    }

    /// An executor for `eth_call` / `eth_estimateGas` on top of `header`'s env, with geth's relaxations: no nonce
    /// check, no base-fee floor (a zero gas price is allowed), no block gas limit cap, and calls from addresses
    /// that hold code (EIP-3607 skipped). Use [`simulate`](Self::simulate); nothing is ever committed.
    pub fn for_call_with_inspector(
        config: ExecutionConfig,
        header: &Header,
        provider: P,
        inspector: I,
    ) -> Result<Self, EvmError> {
        let mut executor = Self::with_inspector(config, header, provider, inspector)?;
        let cfg = &mut executor.evm.ctx.cfg;
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        cfg.disable_block_gas_limit = true;
        cfg.disable_eip3607 = true;
        // A call may use more gas than a transaction could (EIP-7825's cap applies to transactions only).
        cfg.tx_gas_limit_cap = Some(u64::MAX);
        Ok(executor)
    }

    /// Runs `tx` against the current state without committing anything. `Err` is for infrastructure failures and
    /// invalid transactions (the reason says why, as geth words it where the two agree).
    pub fn simulate(&mut self, tx: TxEnv) -> Result<ExecutionResult<HaltReason>, EvmError> {
        simulation_result(self.evm.transact(tx).map(|r| r.result))
    }

    /// The most gas one transaction may use in this block: the block gas limit, and from Osaka also EIP-7825's
    /// cap of 2^24.
    pub fn max_transaction_gas(&self) -> u64 {
        if self.config.fork >= Hardfork::Osaka {
            self.header.gas_limit.min(revm::primitives::eip7825::TX_GAS_LIMIT_CAP)
        } else {
            self.header.gas_limit
        }
    }

    pub fn config(&self) -> ExecutionConfig {
        self.config.clone()
    }

    pub fn gas_used(&self) -> u64 {
        self.cumulative_gas
    }

    pub fn receipts(&self) -> &[TxReceipt] {
        &self.receipts
    }

    fn db(&mut self) -> &mut BlockState<P> {
        &mut self.evm.ctx.journaled_state.database
    }

    /// The state provider the executor reads from.
    pub fn provider(&self) -> &P {
        self.evm.ctx.journaled_state.database.provider()
    }

    /// Cancun's EIP-4788 beacon-root call and Prague's EIP-2935 parent-hash call, before any transaction.
    pub fn apply_pre_block_calls(&mut self) -> Result<(), EvmError> {
        if self.config.fork >= Hardfork::Cancun {
            if let Some(root) = self.header.parent_beacon_block_root {
                // EIP-4788: skipped for the genesis block, whose parent root is zero by definition.
                if self.header.number > 0 {
                    self.system_call(system::BEACON_ROOTS_ADDRESS, Bytes::copy_from_slice(root.as_slice()))?;
                }
            }
        }
        if self.config.fork >= Hardfork::Prague && self.header.number > 0 {
            let parent = self.header.parent_hash;
            self.system_call(system::HISTORY_STORAGE_ADDRESS, Bytes::copy_from_slice(parent.as_slice()))?;
        }
        Ok(())
    }

    /// A system call (caller 0xff…fe, 30M gas, no fee, no nonce) whose state changes are committed. Returns the
    /// call's output. A call to an address without code succeeds with empty output.
    fn system_call(&mut self, address: Address, data: Bytes) -> Result<Bytes, EvmError> {
        let result = self.evm.system_call_one(address, data).map_err(|e| map_evm_error(address, e))?;
        let state = self.evm.finalize();
        self.db().commit(state);
        match result {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => {
                Err(EvmError::SystemCall { address, reason: format!("reverted with {output}") })
            }
            ExecutionResult::Halt { reason, .. } => {
                Err(EvmError::SystemCall { address, reason: format!("halted: {reason:?}") })
            }
        }
    }

    /// Offers one transaction to the block: either it is included (with a receipt) or rejected without any
    /// state change.
    pub fn execute_transaction(&mut self, tx: &RecoveredTx) -> Result<TxOutcome, EvmError> {
        if let Some(rejected) = self.check_block_limits(tx) {
            return Ok(rejected);
        }
        let result = self.evm.transact_commit(tx_env(&tx.tx, tx.sender));
        self.record(tx, result)
    }

    /// Why `tx` cannot fit in what is left of the block, if it cannot.
    fn check_block_limits(&self, tx: &RecoveredTx) -> Option<TxOutcome> {
        // geth: "gas limit reached" — the transaction must fit in what is left of the block.
        let available = self.header.gas_limit.saturating_sub(self.cumulative_gas);
        if tx.tx.gas_limit() > available {
            return Some(TxOutcome::Rejected {
                reason: format!(
                    "gas limit reached: transaction gas {} > block gas left {available}",
                    tx.tx.gas_limit()
                ),
            });
        }
        let blob_gas = tx.tx.blob_versioned_hashes().map_or(0, |h| h.len() as u64 * GAS_PER_BLOB);
        if blob_gas > 0 {
            let max = blob_params(self.config.fork).map_or(0, |b| b.max_blob_gas_per_block());
            if self.blob_gas_used + blob_gas > max {
                return Some(TxOutcome::Rejected {
                    reason: format!("blob gas limit reached: {} + {blob_gas} > {max}", self.blob_gas_used),
                });
            }
        }
        None
    }

    /// Turns revm's answer for an executed (and committed) transaction into an outcome and a receipt.
    fn record<E: std::fmt::Display>(
        &mut self,
        tx: &RecoveredTx,
        result: Result<ExecutionResult<HaltReason>, EVMError<ProviderError, E>>,
    ) -> Result<TxOutcome, EvmError> {
        let result = match result {
            Ok(result) => result,
            Err(EVMError::Transaction(invalid)) => {
                return Ok(TxOutcome::Rejected { reason: invalid.to_string() })
            }
            Err(EVMError::Database(e)) => return Err(EvmError::Provider(e)),
            Err(EVMError::Header(h)) => return Err(EvmError::InvalidBlock(h.to_string())),
            Err(other) => return Err(EvmError::Internal(other.to_string())),
        };
        let blob_gas = tx.tx.blob_versioned_hashes().map_or(0, |h| h.len() as u64 * GAS_PER_BLOB);
        let gas_used = result.tx_gas_used();
        self.cumulative_gas += gas_used;
        self.blob_gas_used += blob_gas;
        let receipt = TxReceipt {
            tx_type: TxType::try_from(tx.tx.ty()).unwrap_or(TxType::Legacy),
            success: result.is_success(),
            gas_used,
            cumulative_gas_used: self.cumulative_gas,
            logs: result.logs().to_vec(),
            contract_address: result.created_address(),
        };
        self.receipts.push(receipt.clone());
        Ok(TxOutcome::Included { result, receipt })
    }

    /// The attached inspector.
    pub fn inspector(&self) -> &I {
        &self.evm.inspector
    }

    /// The attached inspector, mutably (e.g. to reset a tracer between transactions).
    pub fn inspector_mut(&mut self) -> &mut I {
        &mut self.evm.inspector
    }

    /// Applies a cheat-code state overwrite (see [`crate::StatePatch`]).
    pub fn apply_patch(&mut self, patch: &crate::StatePatch) -> Result<(), EvmError> {
        Ok(self.db().apply_patch(patch)?)
    }

    /// EIP-4895: credit withdrawals (amounts in gwei) after the transactions.
    pub fn apply_withdrawals(&mut self, withdrawals: &[Withdrawal]) -> Result<(), EvmError> {
        for w in withdrawals {
            let amount = U256::from(w.amount) * U256::from(1_000_000_000u64);
            self.db().increment_balance(w.address, amount)?;
        }
        Ok(())
    }

    /// Prague's EIP-7002 and EIP-7251 dequeue calls; returns the block's EIP-7685 requests. Deposit requests
    /// (EIP-6110) are read from logs of the chain's deposit contract, when the chain has one.
    pub fn apply_post_block_calls(
        &mut self,
        deposit_contract: Option<Address>,
    ) -> Result<Requests, EvmError> {
        let mut requests = Requests::default();
        if self.config.fork < Hardfork::Prague {
            return Ok(requests);
        }
        let mut deposits = Vec::new();
        if let Some(contract) = deposit_contract {
            for log in self.receipts.iter().flat_map(|r| &r.logs).filter(|l| l.address == contract) {
                deposits.extend_from_slice(&parse_deposit_log(log)?);
            }
        }
        requests.push_request_with_type(0, deposits);
        let withdrawals = self.system_call(system::WITHDRAWAL_QUEUE_ADDRESS, Bytes::new())?;
        requests.push_request_with_type(1, withdrawals);
        let consolidations = self.system_call(system::CONSOLIDATION_QUEUE_ADDRESS, Bytes::new())?;
        requests.push_request_with_type(2, consolidations);
        Ok(requests)
    }

    /// The state diff so far, without computing a root (cheap; used by `eth_call`-style callers and benches).
    pub fn state_changes(&self) -> StateChanges {
        self.evm.ctx.journaled_state.database.changes()
    }

    /// Ends the block: computes receipts root, bloom and the new state root over the parent's trie.
    pub fn finish(
        self,
        parent_state_root: B256,
        requests: Option<Requests>,
    ) -> Result<ExecutedBlock, EvmError> {
        let db = &self.evm.ctx.journaled_state.database;
        let mut changes = db.changes();
        let StateRootUpdate { state_root, nodes } =
            apply_state_changes(db.provider(), parent_state_root, &mut changes)?;
        let envelopes: Vec<Vec<u8>> = self
            .receipts
            .iter()
            .map(|r| alloy_eips::eip2718::Encodable2718::encoded_2718(&r.envelope()))
            .collect();
        let receipts_root = ordered_trie_root(&envelopes)?;
        let logs_bloom = logs_bloom(self.receipts.iter().flat_map(|r| &r.logs));
        let requests_hash = requests.as_ref().map(|r| r.requests_hash());
        Ok(ExecutedBlock {
            gas_used: self.cumulative_gas,
            blob_gas_used: self.blob_gas_used,
            receipts: self.receipts,
            logs_bloom,
            receipts_root,
            state_root,
            requests_hash,
            requests: requests.unwrap_or_default(),
            changes,
            trie_nodes: nodes,
        })
    }
}

/// A simulated call's result, or the error that kept it from running.
fn simulation_result<E: std::fmt::Display>(
    result: Result<ExecutionResult<HaltReason>, EVMError<ProviderError, E>>,
) -> Result<ExecutionResult<HaltReason>, EvmError> {
    match result {
        Ok(result) => Ok(result),
        Err(EVMError::Transaction(invalid)) => {
            Err(EvmError::InvalidTransaction { index: 0, hash: B256::ZERO, reason: invalid.to_string() })
        }
        Err(EVMError::Database(e)) => Err(EvmError::Provider(e)),
        Err(EVMError::Header(h)) => Err(EvmError::InvalidBlock(h.to_string())),
        Err(other) => Err(EvmError::Internal(other.to_string())),
    }
}

fn map_evm_error<E: std::fmt::Display>(address: Address, e: EVMError<ProviderError, E>) -> EvmError {
    match e {
        EVMError::Database(e) => EvmError::Provider(e),
        other => EvmError::SystemCall { address, reason: other.to_string() },
    }
}

/// EIP-6110: a `DepositEvent(bytes pubkey, bytes withdrawal_credentials, bytes amount, bytes signature,
/// bytes index)` log becomes the 192-byte request pubkey(48) ‖ credentials(32) ‖ amount(8) ‖ signature(96) ‖
/// index(8). The ABI layout is fixed by the deposit contract, so offsets are checked exactly.
fn parse_deposit_log(log: &Log) -> Result<Vec<u8>, EvmError> {
    const DEPOSIT_EVENT: B256 =
        alloy_primitives::b256!("649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5");
    if log.topics().first() != Some(&DEPOSIT_EVENT) {
        return Ok(Vec::new());
    }
    let data = &log.data.data;
    let bad = |what: &str| EvmError::InvalidBlock(format!("deposit log: {what}"));
    if data.len() != 576 {
        return Err(bad("wrong data length"));
    }
    // (offset of the length word, expected length) for each dynamic field.
    let fields = [(160usize, 48usize), (256, 32), (320, 8), (384, 96), (512, 8)];
    let mut out = Vec::with_capacity(192);
    for (i, (start, len)) in fields.into_iter().enumerate() {
        let offset = U256::from_be_slice(&data[i * 32..i * 32 + 32]);
        if offset != U256::from(start) {
            return Err(bad("unexpected field offset"));
        }
        let size = U256::from_be_slice(&data[start..start + 32]);
        if size != U256::from(len) {
            return Err(bad("unexpected field size"));
        }
        out.extend_from_slice(&data[start + 32..start + 32 + len]);
    }
    Ok(out)
}

impl<P: StateProvider, I: revm::Inspector<ExecutorContext<P>>> BlockExecutor<P, I> {
    /// [`BlockExecutor::execute_transaction`] with the inspector watching.
    pub fn inspect_transaction(&mut self, tx: &RecoveredTx) -> Result<TxOutcome, EvmError> {
        if let Some(rejected) = self.check_block_limits(tx) {
            return Ok(rejected);
        }
        let result = self.evm.inspect_tx_commit(tx_env(&tx.tx, tx.sender));
        self.record(tx, result)
    }

    /// [`BlockExecutor::simulate`] with the inspector watching.
    pub fn simulate_inspect(&mut self, tx: TxEnv) -> Result<ExecutionResult<HaltReason>, EvmError> {
        simulation_result(self.evm.inspect_tx(tx).map(|r| r.result))
    }
}
