//! debug_trace* (geth's struct logger and callTracer, from revm-inspectors) and eth_createAccessList. Traces
//! re-execute the block from its parent state through the same executor that built it.

use crate::{Node, NodeError, OverriddenState, StateView};
use alloy_consensus::Header;
use alloy_primitives::{Bytes, Sealed, B256};
use alloy_rpc_types_eth::{state::StateOverride, AccessListResult, BlockId, TransactionRequest};
use alloy_rpc_types_trace::geth::{
    GethDebugBuiltInTracerType, GethDebugTracerType, GethDebugTracingOptions, GethTrace, TraceResult,
};
use keel_evm::{
    revm::context::result::ExecutionResult, BlockExecutor, ExecutionConfig, RecoveredTx, StateProvider,
    TxOutcome,
};
use revm_inspectors::{
    access_list::AccessListInspector,
    tracing::{TracingInspector, TracingInspectorConfig},
};

/// The tracers keel runs.
enum Tracer {
    StructLogs,
    Calls(alloy_rpc_types_trace::geth::CallConfig),
}

fn tracer(opts: &GethDebugTracingOptions) -> Result<(Tracer, TracingInspector), NodeError> {
    match &opts.tracer {
        None => Ok((
            Tracer::StructLogs,
            TracingInspector::new(TracingInspectorConfig::from_geth_config(&opts.config)),
        )),
        Some(GethDebugTracerType::BuiltInTracer(GethDebugBuiltInTracerType::CallTracer)) => {
            let config = opts
                .tracer_config
                .clone()
                .into_call_config()
                .map_err(|e| NodeError::InvalidParams(format!("callTracer config: {e}")))?;
            let inspector = TracingInspector::new(TracingInspectorConfig::from_geth_call_config(&config));
            Ok((Tracer::Calls(config), inspector))
        }
        Some(other) => Err(NodeError::InvalidParams(format!(
            "tracer {other:?} is not supported (use the default struct logger or callTracer)"
        ))),
    }
}

fn output(result: &ExecutionResult) -> Bytes {
    match result {
        ExecutionResult::Success { output, .. } => output.data().clone(),
        ExecutionResult::Revert { output, .. } => output.clone(),
        ExecutionResult::Halt { .. } => Bytes::new(),
    }
}

fn build_trace(
    tracer: &Tracer,
    opts: &GethDebugTracingOptions,
    inspector: TracingInspector,
    result: &ExecutionResult,
) -> GethTrace {
    let builder = inspector.into_geth_builder();
    let gas = result.tx_gas_used();
    match tracer {
        Tracer::StructLogs => GethTrace::Default(builder.geth_traces(gas, output(result), opts.config)),
        Tracer::Calls(config) => GethTrace::CallTracer(builder.geth_call_traces(*config, gas)),
    }
}

impl Node {
    /// The block `hash` with its parent's state, ready for re-execution.
    fn block_for_replay(
        &self,
        hash: B256,
    ) -> Result<(Sealed<Header>, Vec<RecoveredTx>, StateView), NodeError> {
        let snapshot = self.snapshot()?;
        let header = snapshot.header(hash)?.ok_or_else(|| NodeError::UnknownBlock(hash.to_string()))?;
        let body = snapshot.body(hash)?.ok_or_else(|| NodeError::UnknownBlock(hash.to_string()))?;
        let parent = snapshot
            .header(header.parent_hash)?
            .ok_or_else(|| NodeError::Internal(format!("genesis has nothing to trace ({hash})")))?;
        let txs = body
            .transactions
            .into_iter()
            .enumerate()
            .map(|(i, tx)| RecoveredTx::recover(tx, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((Sealed::new_unchecked(header, hash), txs, StateView::at_root(snapshot, parent.state_root)))
    }

    /// Re-executes block `hash` and traces the transactions `wanted` picks (by index).
    fn trace_block_txs(
        &self,
        hash: B256,
        opts: &GethDebugTracingOptions,
        wanted: impl Fn(usize) -> bool,
    ) -> Result<Vec<(B256, GethTrace)>, NodeError> {
        let (header, txs, state) = self.block_for_replay(hash)?;
        let (kind, inspector) = tracer(opts)?;
        let config = ExecutionConfig::for_header(self.spec(), &header);
        let mut executor = BlockExecutor::with_inspector(config, &header, state, inspector)?;
        executor.apply_pre_block_calls()?;
        let mut traces = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            if !wanted(i) {
                executor.execute_transaction(tx)?;
                continue;
            }
            let (_, fresh) = tracer(opts)?;
            *executor.inspector_mut() = fresh;
            match executor.inspect_transaction(tx)? {
                TxOutcome::Included { result, .. } => {
                    let (_, fresh) = tracer(opts)?;
                    let inspector = std::mem::replace(executor.inspector_mut(), fresh);
                    traces.push((tx.hash, build_trace(&kind, opts, inspector, &result)));
                }
                TxOutcome::Rejected { reason } => {
                    return Err(NodeError::Internal(format!(
                        "transaction {} no longer executes: {reason}",
                        tx.hash
                    )))
                }
            }
        }
        Ok(traces)
    }

    /// debug_traceTransaction.
    pub fn trace_transaction(
        &self,
        tx_hash: B256,
        opts: &GethDebugTracingOptions,
    ) -> Result<GethTrace, NodeError> {
        let snapshot = self.snapshot()?;
        let location = snapshot
            .tx_location(tx_hash)?
            .ok_or_else(|| NodeError::InvalidParams(format!("transaction {tx_hash} not found")))?;
        let index = location.index as usize;
        let mut traces = self.trace_block_txs(location.block_hash, opts, |i| i == index)?;
        traces.pop().map(|(_, t)| t).ok_or_else(|| NodeError::Internal("no trace produced".into()))
    }

    /// debug_traceBlockByNumber / debug_traceBlockByHash.
    pub fn trace_block(
        &self,
        id: BlockId,
        opts: &GethDebugTracingOptions,
    ) -> Result<Vec<TraceResult>, NodeError> {
        let snapshot = self.snapshot()?;
        let header = self.header(&snapshot, id)?.ok_or_else(|| NodeError::UnknownBlock(id.to_string()))?;
        if header.number == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .trace_block_txs(header.hash(), opts, |_| true)?
            .into_iter()
            .map(|(hash, trace)| TraceResult::Success { result: trace, tx_hash: Some(hash) })
            .collect())
    }

    /// debug_traceCall: `request` traced on the state after block `id`.
    pub fn trace_call(
        &self,
        request: &TransactionRequest,
        id: BlockId,
        overrides: Option<StateOverride>,
        opts: &GethDebugTracingOptions,
    ) -> Result<GethTrace, NodeError> {
        let (header, state) = self.state(id)?;
        let env = header.inner().clone();
        let state = OverriddenState::new(state, overrides.unwrap_or_default());
        let nonce = state.account(request.from.unwrap_or_default())?.map_or(0, |a| a.nonce);
        let (kind, inspector) = tracer(opts)?;
        let config = ExecutionConfig::for_header(self.spec(), &env);
        let mut executor = BlockExecutor::for_call_with_inspector(config, &env, state, inspector)?;
        let tx = self.call_tx_env(request, executor.max_transaction_gas().max(env.gas_limit), nonce)?;
        let result = executor.simulate_inspect(tx)?;
        let (_, fresh) = tracer(opts)?;
        let inspector = std::mem::replace(executor.inspector_mut(), fresh);
        Ok(build_trace(&kind, opts, inspector, &result))
    }

    /// eth_createAccessList: the addresses and slots `request` touches (sender, recipient and precompiles
    /// excluded), and the gas it uses with that list.
    pub fn create_access_list(
        &self,
        request: &TransactionRequest,
        id: BlockId,
    ) -> Result<AccessListResult, NodeError> {
        let (header, state) = self.state(id)?;
        let env = header.inner().clone();
        let nonce = state.account(request.from.unwrap_or_default())?.map_or(0, |a| a.nonce);
        let config = ExecutionConfig::for_header(self.spec(), &env);
        let initial = request.access_list.clone().unwrap_or_default();
        let mut executor =
            BlockExecutor::for_call_with_inspector(config, &env, state, AccessListInspector::new(initial))?;
        let cap = executor.max_transaction_gas();
        let tx = self.call_tx_env(request, cap, nonce)?;
        let result = executor.simulate_inspect(tx)?;
        let access_list = executor.inspector().access_list();
        let mut with_list = request.clone();
        with_list.access_list = Some(access_list.clone());
        let tx = self.call_tx_env(&with_list, cap, nonce)?;
        let gas = executor.simulate(tx)?;
        let error = (!result.is_success()).then(|| NodeError::from_failed_call(result).to_string());
        Ok(AccessListResult { access_list, gas_used: alloy_primitives::U256::from(gas.tx_gas_used()), error })
    }
}
