//! keel's chain data as Ethereum JSON-RPC objects (alloy's RPC types, so the JSON is what clients expect).

use crate::error::{internal, store_error, RpcResult};
use alloy_consensus::{Header, ReceiptEnvelope, Transaction as _, TxEnvelope};
use alloy_primitives::{Address, Sealed, B256, U256};
use alloy_rpc_types_eth::{Block, BlockTransactions, Log, Transaction, TransactionReceipt};
use keel_primitives::BlockBody;
use keel_store::StoreSnapshot;

/// The senders of a stored block's transactions (recorded at import, so impersonated senders survive).
pub(crate) fn senders(snapshot: &StoreSnapshot, hash: B256, count: usize) -> RpcResult<Vec<Address>> {
    let senders = snapshot
        .senders(hash)
        .map_err(store_error)?
        .ok_or_else(|| internal(format!("senders of {hash} missing")))?;
    if senders.len() != count {
        return Err(internal(format!("block {hash}: {} senders for {count} transactions", senders.len())));
    }
    Ok(senders)
}

/// Gas price a transaction paid in a block with `base_fee`.
pub(crate) fn effective_gas_price(tx: &TxEnvelope, base_fee: Option<u64>) -> u128 {
    tx.effective_gas_price(base_fee)
}

/// A mined transaction as JSON.
pub(crate) fn rpc_transaction(
    tx: &TxEnvelope,
    from: Address,
    header: &Sealed<Header>,
    index: usize,
) -> RpcResult<Transaction> {
    Ok(Transaction {
        inner: alloy_consensus::transaction::Recovered::new_unchecked(tx.clone(), from),
        block_hash: Some(header.hash()),
        block_number: Some(header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective_gas_price(tx, header.base_fee_per_gas)),
        block_timestamp: Some(header.timestamp),
    })
}

/// A pooled transaction as JSON.
pub(crate) fn rpc_pending_transaction(tx: &TxEnvelope, from: Address) -> Transaction {
    Transaction {
        inner: alloy_consensus::transaction::Recovered::new_unchecked(tx.clone(), from),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A block as JSON, with transaction hashes or full transactions.
pub(crate) fn rpc_block(
    snapshot: &StoreSnapshot,
    header: Sealed<Header>,
    body: BlockBody<keel_primitives::TxEnvelope>,
    full: bool,
) -> RpcResult<Block> {
    let size = U256::from(alloy_rlp::Encodable::length(&alloy_consensus::Block {
        header: header.inner().clone(),
        body: body.clone(),
    }));
    let transactions = if full {
        let from = senders(snapshot, header.hash(), body.transactions.len())?;
        BlockTransactions::Full(
            body.transactions
                .iter()
                .zip(from)
                .enumerate()
                .map(|(i, (tx, from))| rpc_transaction(tx, from, &header, i))
                .collect::<RpcResult<_>>()?,
        )
    } else {
        BlockTransactions::Hashes(body.transactions.iter().map(|tx| *tx.tx_hash()).collect())
    };
    Ok(Block {
        header: alloy_rpc_types_eth::Header {
            hash: header.hash(),
            inner: header.inner().clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(size),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: body.withdrawals,
    })
}

/// A block's logs with their position metadata, in block order.
pub(crate) fn block_logs(
    header: &Sealed<Header>,
    body: &BlockBody<TxEnvelope>,
    receipts: &[ReceiptEnvelope],
) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (i, (tx, receipt)) in body.transactions.iter().zip(receipts).enumerate() {
        for log in receipt.logs() {
            out.push(Log {
                inner: log.clone(),
                block_hash: Some(header.hash()),
                block_number: Some(header.number),
                block_timestamp: Some(header.timestamp),
                transaction_hash: Some(*tx.tx_hash()),
                transaction_index: Some(i as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    out
}

/// Every receipt of a block as JSON.
pub(crate) fn block_receipts(
    snapshot: &StoreSnapshot,
    header: &Sealed<Header>,
) -> RpcResult<Vec<TransactionReceipt>> {
    let hash = header.hash();
    let body = snapshot
        .body(hash)
        .map_err(store_error)?
        .ok_or_else(|| internal(format!("body of {hash} missing")))?;
    let receipts = snapshot
        .receipts(hash)
        .map_err(store_error)?
        .ok_or_else(|| internal(format!("receipts of {hash} missing")))?;
    let logs = block_logs(header, &body, &receipts);
    let mut logs = logs.into_iter();
    let mut out = Vec::with_capacity(receipts.len());
    let mut previous_cumulative = 0u64;
    let from_all = senders(snapshot, hash, body.transactions.len())?;
    for (i, ((tx, receipt), from)) in body.transactions.iter().zip(&receipts).zip(from_all).enumerate() {
        let cumulative = receipt.cumulative_gas_used();
        let mut tx_logs = logs.by_ref().take(receipt.logs().len());
        // `block_logs` made one entry per log, in order; the fallback only keeps types total.
        let inner = receipt
            .clone()
            .map_logs(|log| tx_logs.next().unwrap_or(Log { inner: log, ..Default::default() }));
        let contract_address = tx.kind().is_create().then(|| from.create(tx.nonce()));
        out.push(TransactionReceipt {
            inner,
            transaction_hash: *tx.tx_hash(),
            transaction_index: Some(i as u64),
            block_hash: Some(hash),
            block_number: Some(header.number),
            gas_used: cumulative - previous_cumulative,
            effective_gas_price: effective_gas_price(tx, header.base_fee_per_gas),
            blob_gas_used: None,
            blob_gas_price: None,
            from,
            to: tx.to(),
            contract_address,
        });
        previous_cumulative = cumulative;
    }
    Ok(out)
}

/// A mined transaction's block (header and body) and its index in it.
pub(crate) type TxBlock = (Sealed<Header>, BlockBody<TxEnvelope>, usize);

/// The block of a transaction, if it is mined.
pub(crate) fn tx_block(snapshot: &StoreSnapshot, tx_hash: B256) -> RpcResult<Option<TxBlock>> {
    let Some(location) = snapshot.tx_location(tx_hash).map_err(store_error)? else { return Ok(None) };
    let header = snapshot
        .header(location.block_hash)
        .map_err(store_error)?
        .ok_or_else(|| internal(format!("block {} missing", location.block_hash)))?;
    let body = snapshot
        .body(location.block_hash)
        .map_err(store_error)?
        .ok_or_else(|| internal(format!("body of {} missing", location.block_hash)))?;
    Ok(Some((Sealed::new_unchecked(header, location.block_hash), body, location.index as usize)))
}
