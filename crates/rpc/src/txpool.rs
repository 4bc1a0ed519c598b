//! geth's `txpool_` namespace (status, content, contentFrom, inspect) and `miner_setGasPrice`.

use crate::{convert::rpc_pending_transaction, error::RpcResult};
use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, U256, U64};
use alloy_rpc_types_eth::Transaction;
use jsonrpsee::{core::RegisterMethodError, RpcModule};
use keel_node::{txpool::PooledTx, Node};
use std::collections::BTreeMap;

/// nonce (decimal, as geth) → value, per sender (checksummed, as geth).
type BySender<T> = BTreeMap<String, BTreeMap<String, T>>;

#[derive(Clone, serde::Serialize)]
struct Content<T> {
    pending: BySender<T>,
    queued: BySender<T>,
}

#[derive(Clone, serde::Serialize)]
struct ContentFrom {
    pending: BTreeMap<String, Transaction>,
    queued: BTreeMap<String, Transaction>,
}

#[derive(Clone, serde::Serialize)]
struct Status {
    pending: U64,
    queued: U64,
}

fn by_nonce<T>(txs: &[PooledTx], f: &impl Fn(&PooledTx) -> T) -> BTreeMap<String, T> {
    txs.iter().map(|tx| (tx.nonce.to_string(), f(tx))).collect()
}

fn by_sender<T>(txs: &BTreeMap<Address, Vec<PooledTx>>, f: impl Fn(&PooledTx) -> T) -> BySender<T> {
    txs.iter().map(|(address, txs)| (address.to_checksum(None), by_nonce(txs, &f))).collect()
}

fn rpc_tx(tx: &PooledTx) -> Transaction {
    rpc_pending_transaction(&tx.tx.tx, tx.sender())
}

/// geth's one-line summary: `0xTo: 100 wei + 21000 gas × 1 wei`.
fn summary(tx: &PooledTx) -> String {
    let envelope = &tx.tx.tx;
    let to = match envelope.to() {
        Some(to) => to.to_checksum(None),
        None => "contract creation".into(),
    };
    format!("{to}: {} wei + {} gas × {} wei", envelope.value(), envelope.gas_limit(), tx.fee_cap)
}

pub(crate) fn register(module: &mut RpcModule<Node>) -> Result<(), RegisterMethodError> {
    module.register_method("txpool_status", |_, node, _| -> RpcResult<Status> {
        let status = node.pool_status();
        Ok(Status { pending: U64::from(status.pending), queued: U64::from(status.queued) })
    })?;
    module.register_method("txpool_content", |_, node, _| -> RpcResult<Content<Transaction>> {
        let (pending, queued) = node.pool_content();
        Ok(Content { pending: by_sender(&pending, rpc_tx), queued: by_sender(&queued, rpc_tx) })
    })?;
    module.register_method("txpool_contentFrom", |params, node, _| -> RpcResult<ContentFrom> {
        let address: Address = params.one()?;
        let (pending, queued) = node.pool_content();
        let of = |m: &BTreeMap<Address, Vec<PooledTx>>| {
            m.get(&address).map(|txs| by_nonce(txs, &rpc_tx)).unwrap_or_default()
        };
        Ok(ContentFrom { pending: of(&pending), queued: of(&queued) })
    })?;
    module.register_method("txpool_inspect", |_, node, _| -> RpcResult<Content<String>> {
        let (pending, queued) = node.pool_content();
        Ok(Content { pending: by_sender(&pending, summary), queued: by_sender(&queued, summary) })
    })?;
    module.register_method("miner_setGasPrice", |params, node, _| -> RpcResult<bool> {
        let price: U256 = params.one()?;
        node.set_min_tip(price.saturating_to());
        Ok(true)
    })?;
    Ok(())
}
