//! The `eth_`, `net_` and `web3_` namespaces.

use crate::{
    convert::{block_logs, block_receipts, rpc_block, rpc_pending_transaction, rpc_transaction, tx_block},
    error::{internal, invalid_params, node_error, store_error, RpcResult},
};
use alloy_consensus::Header;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Sealed, B256, U256, U64};
use alloy_rpc_types_eth::{
    state::StateOverride, Block, BlockId, BlockNumberOrTag, FeeHistory, Filter, FilterBlockOption, Log,
    Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::{
    core::RegisterMethodError,
    types::{ErrorObjectOwned, Params},
    RpcModule,
};
use keel_evm::StateProvider;
use keel_node::{Mining, Node, NodeError};
use keel_store::StoreSnapshot;

/// Longest block range `eth_getLogs` scans in one request (geth has no limit; keel bounds the work per request).
pub(crate) const MAX_LOG_RANGE: u64 = 100_000;

pub(crate) fn block_id(params: &mut jsonrpsee::types::params::ParamsSequence<'_>) -> RpcResult<BlockId> {
    Ok(params.optional_next::<BlockId>()?.unwrap_or(BlockId::latest()))
}

fn header_or_none(node: &Node, snapshot: &StoreSnapshot, id: BlockId) -> RpcResult<Option<Sealed<Header>>> {
    node.header(snapshot, id).map_err(node_error)
}

fn full_block(node: &Node, id: BlockId, full: bool) -> RpcResult<Option<Block>> {
    let snapshot = node.snapshot().map_err(node_error)?;
    let Some(header) = header_or_none(node, &snapshot, id)? else { return Ok(None) };
    let body =
        snapshot.body(header.hash()).map_err(store_error)?.ok_or_else(|| internal("block body missing"))?;
    rpc_block(&snapshot, header, body, full).map(Some)
}

fn tx_count(node: &Node, id: BlockId) -> RpcResult<Option<U64>> {
    let snapshot = node.snapshot().map_err(node_error)?;
    let Some(header) = header_or_none(node, &snapshot, id)? else { return Ok(None) };
    let body =
        snapshot.body(header.hash()).map_err(store_error)?.ok_or_else(|| internal("block body missing"))?;
    Ok(Some(U64::from(body.transactions.len())))
}

fn tx_by_block_and_index(node: &Node, id: BlockId, index: U64) -> RpcResult<Option<Transaction>> {
    let snapshot = node.snapshot().map_err(node_error)?;
    let Some(header) = header_or_none(node, &snapshot, id)? else { return Ok(None) };
    let body =
        snapshot.body(header.hash()).map_err(store_error)?.ok_or_else(|| internal("block body missing"))?;
    let index = index.to::<usize>();
    let Some(tx) = body.transactions.get(index) else { return Ok(None) };
    let from = crate::convert::senders(&snapshot, header.hash(), body.transactions.len())?[index];
    rpc_transaction(tx, from, &header, index).map(Some)
}

/// Resolves a log filter's range and returns its logs.
pub(crate) fn logs(node: &Node, filter: &Filter) -> RpcResult<Vec<Log>> {
    let snapshot = node.snapshot().map_err(node_error)?;
    let headers: Vec<Sealed<Header>> = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let header = snapshot.header(hash).map_err(store_error)?.ok_or_else(|| {
                ErrorObjectOwned::owned(
                    crate::error::code::NOT_FOUND,
                    format!("unknown block {hash}"),
                    None::<()>,
                )
            })?;
            vec![Sealed::new_unchecked(header, hash)]
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let resolve = |tag: Option<BlockNumberOrTag>| -> RpcResult<u64> {
                let id = BlockId::Number(tag.unwrap_or(BlockNumberOrTag::Latest));
                Ok(header_or_none(node, &snapshot, id)?.map_or(u64::MAX, |h| h.number))
            };
            let head = resolve(None)?;
            let from = resolve(from_block)?.min(head);
            let to = resolve(to_block)?.min(head);
            if from > to {
                return Ok(Vec::new());
            }
            if to - from >= MAX_LOG_RANGE {
                return Err(invalid_params(format!(
                    "block range too large: {} blocks, at most {MAX_LOG_RANGE}",
                    to - from + 1
                )));
            }
            (from..=to)
                .map(|n| {
                    snapshot
                        .header_by_number(n)
                        .map_err(store_error)?
                        .ok_or_else(|| internal(format!("canonical block {n} missing")))
                })
                .collect::<RpcResult<_>>()?
        }
    };
    let mut out = Vec::new();
    for header in headers {
        if !filter.matches_bloom(header.logs_bloom) {
            continue;
        }
        let hash = header.hash();
        let body = snapshot.body(hash).map_err(store_error)?.ok_or_else(|| internal("block body missing"))?;
        let receipts =
            snapshot.receipts(hash).map_err(store_error)?.ok_or_else(|| internal("receipts missing"))?;
        out.extend(block_logs(&header, &body, &receipts).into_iter().filter(|log| filter.rpc_matches(log)));
    }
    Ok(out)
}

fn call_result(node: &Node, params: Params<'_>) -> RpcResult<Bytes> {
    let mut seq = params.sequence();
    let request: TransactionRequest = seq.next()?;
    let id = block_id(&mut seq)?;
    let overrides: Option<StateOverride> = seq.optional_next()?;
    let block_overrides: Option<alloy_rpc_types_eth::BlockOverrides> = seq.optional_next()?;
    let result = node.call(&request, id, overrides, block_overrides).map_err(node_error)?;
    if result.is_success() {
        Ok(result.into_output().unwrap_or_default())
    } else {
        Err(node_error(NodeError::from_failed_call(result)))
    }
}

fn fee_history(node: &Node, params: Params<'_>) -> RpcResult<FeeHistory> {
    let mut seq = params.sequence();
    let count: U64 = seq.next()?;
    let newest: BlockNumberOrTag = seq.next()?;
    let percentiles: Option<Vec<f64>> = seq.optional_next()?;
    let snapshot = node.snapshot().map_err(node_error)?;
    let newest = header_or_none(node, &snapshot, BlockId::Number(newest))?
        .ok_or_else(|| ErrorObjectOwned::owned(crate::error::code::NOT_FOUND, "unknown block", None::<()>))?;
    let count = count.to::<u64>().clamp(1, 1024).min(newest.number + 1);
    let oldest = newest.number + 1 - count;
    let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
    let mut rewards = Vec::new();
    for n in oldest..=newest.number {
        let header = snapshot
            .header_by_number(n)
            .map_err(store_error)?
            .ok_or_else(|| internal("canonical block missing"))?;
        history.base_fee_per_gas.push(u128::from(header.base_fee_per_gas.unwrap_or_default()));
        history.gas_used_ratio.push(header.gas_used as f64 / header.gas_limit.max(1) as f64);
        if let Some(percentiles) = &percentiles {
            let body =
                snapshot.body(header.hash()).map_err(store_error)?.ok_or_else(|| internal("body missing"))?;
            let mut tips: Vec<u128> = body
                .transactions
                .iter()
                .map(|tx| {
                    alloy_consensus::Transaction::effective_tip_per_gas(
                        tx,
                        header.base_fee_per_gas.unwrap_or_default(),
                    )
                    .unwrap_or(0)
                })
                .collect();
            tips.sort_unstable();
            rewards.push(
                percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            0
                        } else {
                            tips[((p / 100.0) * (tips.len() - 1) as f64).round() as usize]
                        }
                    })
                    .collect(),
            );
        }
    }
    history.base_fee_per_gas.push(u128::from(keel_evm::next_base_fee(node.spec(), newest.inner())));
    history.reward = percentiles.map(|_| rewards);
    // keel carries no blobs: the blob base fee stays at its minimum and no blob gas is used.
    history.base_fee_per_blob_gas = vec![1; history.base_fee_per_gas.len()];
    history.blob_gas_used_ratio = vec![0.0; history.gas_used_ratio.len()];
    Ok(history)
}

/// Registers the `eth_`, `net_` and `web3_` methods.
pub(crate) fn register(module: &mut RpcModule<Node>) -> Result<(), RegisterMethodError> {
    module.register_method("web3_clientVersion", |_, _, _| -> RpcResult<String> {
        Ok(format!("keel/v{}", env!("CARGO_PKG_VERSION")))
    })?;
    module.register_method("web3_sha3", |params, _, _| -> RpcResult<B256> {
        let data: Bytes = params.one()?;
        Ok(keccak256(&data))
    })?;
    module.register_method("net_version", |_, node, _| -> RpcResult<String> {
        Ok(node.chain_id().to_string())
    })?;
    module.register_method("net_listening", |_, _, _| -> RpcResult<bool> { Ok(true) })?;
    module.register_method("net_peerCount", |_, _, _| -> RpcResult<U64> { Ok(U64::ZERO) })?;
    module
        .register_method("eth_chainId", |_, node, _| -> RpcResult<U64> { Ok(U64::from(node.chain_id())) })?;
    module.register_method("eth_syncing", |_, _, _| -> RpcResult<bool> { Ok(false) })?;
    module.register_method("eth_mining", |_, node, _| -> RpcResult<bool> {
        Ok(node.mining() != Mining::Manual)
    })?;
    module.register_method("eth_hashrate", |_, _, _| -> RpcResult<U64> { Ok(U64::ZERO) })?;
    module.register_method("eth_coinbase", |_, _, _| -> RpcResult<Address> { Ok(Address::ZERO) })?;
    module.register_method("eth_accounts", |_, node, _| -> RpcResult<Vec<Address>> {
        Ok(node.accounts().to_vec())
    })?;
    module.register_method("eth_blockNumber", |_, node, _| -> RpcResult<U64> {
        Ok(U64::from(node.chain().head().map_err(node_error)?.number))
    })?;
    module.register_method("eth_gasPrice", |_, node, _| -> RpcResult<U256> {
        // The next block's base fee plus the default tip, as anvil answers.
        let head = node.chain().head().map_err(node_error)?;
        Ok(U256::from(keel_evm::next_base_fee(node.spec(), head.inner())) + U256::from(1_000_000_000u64))
    })?;
    module.register_method("eth_maxPriorityFeePerGas", |_, _, _| -> RpcResult<U256> {
        Ok(U256::from(1_000_000_000u64))
    })?;
    module.register_method("eth_blobBaseFee", |_, _, _| -> RpcResult<U256> { Ok(U256::from(1u64)) })?;
    module.register_blocking_method("eth_feeHistory", |params, node, _| fee_history(&node, params))?;

    module.register_method("eth_getBalance", |params, node, _| -> RpcResult<U256> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let (_, state) = node.state(block_id(&mut seq)?).map_err(node_error)?;
        Ok(state.account(address).map_err(|e| node_error(e.into()))?.map(|a| a.balance).unwrap_or_default())
    })?;
    module.register_method("eth_getTransactionCount", |params, node, _| -> RpcResult<U64> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let id = block_id(&mut seq)?;
        if id == BlockId::Number(BlockNumberOrTag::Pending) {
            return node.pending_nonce(address).map(U64::from).map_err(node_error);
        }
        let (_, state) = node.state(id).map_err(node_error)?;
        Ok(U64::from(
            state.account(address).map_err(|e| node_error(e.into()))?.map(|a| a.nonce).unwrap_or_default(),
        ))
    })?;
    module.register_method("eth_getCode", |params, node, _| -> RpcResult<Bytes> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let (_, state) = node.state(block_id(&mut seq)?).map_err(node_error)?;
        match state.account(address).map_err(|e| node_error(e.into()))? {
            Some(account) => state.code(account.code_hash).map_err(|e| node_error(e.into())),
            None => Ok(Bytes::new()),
        }
    })?;
    module.register_method("eth_getStorageAt", |params, node, _| -> RpcResult<B256> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let slot: U256 = seq.next()?;
        let (_, state) = node.state(block_id(&mut seq)?).map_err(node_error)?;
        let Some(account) = state.account(address).map_err(|e| node_error(e.into()))? else {
            return Ok(B256::ZERO);
        };
        let value = state.storage(address, account.storage_root, slot).map_err(|e| node_error(e.into()))?;
        Ok(B256::from(value))
    })?;

    module.register_blocking_method("eth_sendRawTransaction", |params, node, _| -> RpcResult<B256> {
        let raw: Bytes = params.one()?;
        node.send_raw_transaction(&raw).map_err(node_error)
    })?;
    module.register_blocking_method("eth_sendTransaction", |params, node, _| -> RpcResult<B256> {
        let request: TransactionRequest = params.one()?;
        node.send_transaction(request).map_err(node_error)
    })?;
    module.register_blocking_method("eth_signTransaction", |params, node, _| -> RpcResult<Bytes> {
        let request: TransactionRequest = params.one()?;
        let tx = node.sign_request(request).map_err(node_error)?;
        Ok(tx.encoded_2718().into())
    })?;
    module.register_blocking_method("eth_sign", |params, node, _| -> RpcResult<Bytes> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let message: Bytes = seq.next()?;
        Ok(node.sign_message(address, &message).map_err(node_error)?.as_bytes().into())
    })?;
    module.register_blocking_method("personal_sign", |params, node, _| -> RpcResult<Bytes> {
        let mut seq = params.sequence();
        let message: Bytes = seq.next()?;
        let address: Address = seq.next()?;
        Ok(node.sign_message(address, &message).map_err(node_error)?.as_bytes().into())
    })?;
    module.register_blocking_method("eth_signTypedData_v4", |params, node, _| -> RpcResult<Bytes> {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        // The typed data comes as an object or as a JSON string of one.
        let raw: serde_json::Value = seq.next()?;
        let raw = match raw {
            serde_json::Value::String(s) => {
                serde_json::from_str(&s).map_err(|e| invalid_params(format!("typed data: {e}")))?
            }
            other => other,
        };
        let typed: alloy_dyn_abi::TypedData =
            serde_json::from_value(raw).map_err(|e| invalid_params(format!("typed data: {e}")))?;
        let hash = typed.eip712_signing_hash().map_err(|e| invalid_params(format!("typed data: {e}")))?;
        Ok(node.sign_hash(address, hash).map_err(node_error)?.as_bytes().into())
    })?;

    module.register_blocking_method("eth_call", |params, node, _| call_result(&node, params))?;
    module.register_blocking_method("eth_estimateGas", |params, node, _| -> RpcResult<U64> {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let id = block_id(&mut seq)?;
        let overrides: Option<StateOverride> = seq.optional_next()?;
        node.estimate_gas(request, id, overrides).map(U64::from).map_err(node_error)
    })?;

    module.register_blocking_method(
        "eth_getBlockByNumber",
        |params, node, _| -> RpcResult<Option<Block>> {
            let mut seq = params.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let full: bool = seq.optional_next()?.unwrap_or(false);
            full_block(&node, BlockId::Number(tag), full)
        },
    )?;
    module.register_blocking_method("eth_getBlockByHash", |params, node, _| -> RpcResult<Option<Block>> {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let full: bool = seq.optional_next()?.unwrap_or(false);
        full_block(&node, BlockId::hash(hash), full)
    })?;
    module.register_blocking_method("eth_getBlockTransactionCountByNumber", |params, node, _| {
        let tag: BlockNumberOrTag = params.one()?;
        tx_count(&node, BlockId::Number(tag))
    })?;
    module.register_blocking_method("eth_getBlockTransactionCountByHash", |params, node, _| {
        let hash: B256 = params.one()?;
        tx_count(&node, BlockId::hash(hash))
    })?;
    module.register_blocking_method(
        "eth_getUncleCountByBlockNumber",
        |params, node, _| -> RpcResult<Option<U64>> {
            let tag: BlockNumberOrTag = params.one()?;
            Ok(tx_count(&node, BlockId::Number(tag))?.map(|_| U64::ZERO))
        },
    )?;
    module.register_blocking_method(
        "eth_getUncleCountByBlockHash",
        |params, node, _| -> RpcResult<Option<U64>> {
            let hash: B256 = params.one()?;
            Ok(tx_count(&node, BlockId::hash(hash))?.map(|_| U64::ZERO))
        },
    )?;
    module.register_blocking_method("eth_getTransactionByBlockNumberAndIndex", |params, node, _| {
        let mut seq = params.sequence();
        let tag: BlockNumberOrTag = seq.next()?;
        let index: U64 = seq.next()?;
        tx_by_block_and_index(&node, BlockId::Number(tag), index)
    })?;
    module.register_blocking_method("eth_getTransactionByBlockHashAndIndex", |params, node, _| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let index: U64 = seq.next()?;
        tx_by_block_and_index(&node, BlockId::hash(hash), index)
    })?;
    module.register_blocking_method(
        "eth_getTransactionByHash",
        |params, node, _| -> RpcResult<Option<Transaction>> {
            let hash: B256 = params.one()?;
            let snapshot = node.snapshot().map_err(node_error)?;
            if let Some((header, body, index)) = tx_block(&snapshot, hash)? {
                let tx =
                    body.transactions.get(index).ok_or_else(|| internal("transaction index out of range"))?;
                let from = crate::convert::senders(&snapshot, header.hash(), body.transactions.len())?[index];
                return rpc_transaction(tx, from, &header, index).map(Some);
            }
            Ok(node.pooled(&hash).map(|tx| rpc_pending_transaction(&tx.tx, tx.sender)))
        },
    )?;
    module.register_blocking_method(
        "eth_getTransactionReceipt",
        |params, node, _| -> RpcResult<Option<TransactionReceipt>> {
            let hash: B256 = params.one()?;
            let snapshot = node.snapshot().map_err(node_error)?;
            let Some((header, _, index)) = tx_block(&snapshot, hash)? else { return Ok(None) };
            Ok(block_receipts(&snapshot, &header)?.into_iter().nth(index))
        },
    )?;
    module.register_blocking_method(
        "eth_getBlockReceipts",
        |params, node, _| -> RpcResult<Option<Vec<TransactionReceipt>>> {
            let id: BlockId = params.one()?;
            let snapshot = node.snapshot().map_err(node_error)?;
            let Some(header) = header_or_none(&node, &snapshot, id)? else { return Ok(None) };
            block_receipts(&snapshot, &header).map(Some)
        },
    )?;
    module.register_blocking_method("eth_getProof", |params, node, _| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let keys: Vec<alloy_serde::JsonStorageKey> = seq.next()?;
        let id = block_id(&mut seq)?;
        node.proof(address, keys, id).map_err(node_error)
    })?;
    module.register_blocking_method("eth_getLogs", |params, node, _| -> RpcResult<Vec<Log>> {
        let filter: Filter = params.one()?;
        logs(&node, &filter)
    })?;
    Ok(())
}
