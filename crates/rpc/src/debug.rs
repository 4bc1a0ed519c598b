//! The `debug_` namespace: geth's struct logger and callTracer over keel's executor.

use crate::{
    error::{node_error, RpcResult},
    eth::block_id,
};
use alloy_primitives::B256;
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, TransactionRequest};
use alloy_rpc_types_trace::geth::{
    GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace, TraceResult,
};
use jsonrpsee::{core::RegisterMethodError, RpcModule};
use keel_node::Node;

pub(crate) fn register(module: &mut RpcModule<Node>) -> Result<(), RegisterMethodError> {
    module.register_method("keel_getPolicy", |_, node, _| -> RpcResult<serde_json::Value> {
        Ok(match node.spec().policy() {
            Some(policy) => serde_json::json!({
                "hash": policy.hash(),
                "rules": policy.rules().len(),
                "policy": policy.config(),
            }),
            None => serde_json::Value::Null,
        })
    })?;
    module.register_method(
        "keel_blockVerdict",
        |params, node, _| -> RpcResult<Option<keel_node::BlockVerdict>> {
            let number: alloy_primitives::U64 = params.one()?;
            Ok(node.block_verdict(number.to()))
        },
    )?;
    module.register_blocking_method(
        "debug_executionWitness",
        |params, node, _| -> RpcResult<serde_json::Value> {
            let mut seq = params.sequence();
            let id = block_id(&mut seq)?;
            let snapshot = node.snapshot().map_err(node_error)?;
            let header = node
                .header(&snapshot, id)
                .map_err(node_error)?
                .ok_or_else(|| node_error(keel_node::NodeError::UnknownBlock(id.to_string())))?;
            let preimages = node.execution_witness(header.hash()).map_err(node_error)?;
            Ok(serde_json::json!({ "preimages": preimages }))
        },
    )?;
    module.register_blocking_method(
        "debug_dbGet",
        |params, node, _| -> RpcResult<Option<alloy_primitives::Bytes>> {
            let hash: B256 = params.one()?;
            node.db_get(hash).map_err(node_error)
        },
    )?;
    module.register_blocking_method("debug_setHead", |params, node, _| -> RpcResult<()> {
        let number: alloy_primitives::U64 = params.one()?;
        node.set_head(number.to()).map_err(node_error)
    })?;
    module.register_blocking_method("debug_traceTransaction", |params, node, _| -> RpcResult<GethTrace> {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let opts: GethDebugTracingOptions = seq.optional_next()?.unwrap_or_default();
        node.trace_transaction(hash, &opts).map_err(node_error)
    })?;
    module.register_blocking_method("debug_traceCall", |params, node, _| -> RpcResult<GethTrace> {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let id = block_id(&mut seq)?;
        let opts: GethDebugTracingCallOptions = seq.optional_next()?.unwrap_or_default();
        node.trace_call(&request, id, opts.state_overrides, &opts.tracing_options).map_err(node_error)
    })?;
    module.register_blocking_method(
        "debug_traceBlockByNumber",
        |params, node, _| -> RpcResult<Vec<TraceResult>> {
            let mut seq = params.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let opts: GethDebugTracingOptions = seq.optional_next()?.unwrap_or_default();
            node.trace_block(BlockId::Number(tag), &opts).map_err(node_error)
        },
    )?;
    module.register_blocking_method(
        "debug_traceBlockByHash",
        |params, node, _| -> RpcResult<Vec<TraceResult>> {
            let mut seq = params.sequence();
            let hash: B256 = seq.next()?;
            let opts: GethDebugTracingOptions = seq.optional_next()?.unwrap_or_default();
            node.trace_block(BlockId::hash(hash), &opts).map_err(node_error)
        },
    )?;
    module.register_blocking_method("eth_createAccessList", |params, node, _| {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let id = block_id(&mut seq)?;
        node.create_access_list(&request, id).map_err(node_error)
    })?;
    Ok(())
}
