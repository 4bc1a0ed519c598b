//! Polling filters (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter, eth_getFilterChanges,
//! eth_getFilterLogs, eth_uninstallFilter) and push subscriptions (eth_subscribe: newHeads, logs,
//! newPendingTransactions).

use crate::{
    convert::block_logs,
    error::{invalid_params, node_error, store_error, RpcResult},
    eth::logs,
};
use alloy_primitives::{keccak256, B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use jsonrpsee::{
    core::{traits::IdProvider, RegisterMethodError, SubscriptionResult},
    types::{ErrorObjectOwned, SubscriptionId},
    PendingSubscriptionSink, RpcModule, SubscriptionMessage,
};
use keel_node::{Node, NodeEvent};
use serde::Serialize;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};
use tokio::sync::broadcast::{self, error::TryRecvError};

/// geth drops a filter nobody polled for five minutes.
const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

enum FilterKind {
    /// Hashes of blocks after `next`.
    Blocks { next: u64 },
    /// Logs matching the filter in blocks from `next` on.
    Logs { filter: Box<Filter>, next: u64 },
    /// Hashes of transactions entering the pool.
    Pending { events: broadcast::Receiver<NodeEvent> },
}

struct Installed {
    kind: FilterKind,
    last_poll: Instant,
}

/// The installed polling filters.
#[derive(Default)]
pub(crate) struct Filters {
    next_id: AtomicU64,
    installed: Mutex<HashMap<U256, Installed>>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filters").finish_non_exhaustive()
    }
}

impl Filters {
    fn install(&self, kind: FilterKind) -> U256 {
        let id = U256::from(self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut installed = self.installed.lock().unwrap_or_else(|p| p.into_inner());
        installed.retain(|_, f| f.last_poll.elapsed() < FILTER_TIMEOUT);
        installed.insert(id, Installed { kind, last_poll: Instant::now() });
        id
    }
}

#[derive(Clone, Serialize)]
#[serde(untagged)]
enum Changes {
    Hashes(Vec<B256>),
    Logs(Vec<Log>),
}

fn not_found() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(crate::error::code::INVALID_INPUT, "filter not found", None::<()>)
}

fn head_number(node: &Node) -> RpcResult<u64> {
    Ok(node.chain().head().map_err(node_error)?.number)
}

fn changes(node: &Node, filters: &Filters, id: U256) -> RpcResult<Changes> {
    let mut installed = filters.installed.lock().unwrap_or_else(|p| p.into_inner());
    let entry = installed.get_mut(&id).ok_or_else(not_found)?;
    entry.last_poll = Instant::now();
    let head = head_number(node)?;
    match &mut entry.kind {
        FilterKind::Blocks { next } => {
            let snapshot = node.snapshot().map_err(node_error)?;
            let mut hashes = Vec::new();
            for n in *next..=head {
                hashes.extend(snapshot.canonical_hash(n).map_err(store_error)?);
            }
            *next = head + 1;
            Ok(Changes::Hashes(hashes))
        }
        FilterKind::Logs { filter, next } => {
            if *next > head {
                return Ok(Changes::Logs(Vec::new()));
            }
            let mut window = (**filter).clone();
            let to = match filter.block_option {
                FilterBlockOption::Range {
                    to_block: Some(alloy_rpc_types_eth::BlockNumberOrTag::Number(to)),
                    ..
                } => to.min(head),
                _ => head,
            };
            window.block_option =
                FilterBlockOption::Range { from_block: Some((*next).into()), to_block: Some(to.into()) };
            *next = head + 1;
            Ok(Changes::Logs(logs(node, &window)?))
        }
        FilterKind::Pending { events } => {
            let mut hashes = Vec::new();
            loop {
                match events.try_recv() {
                    Ok(NodeEvent::PendingTransaction(hash)) => hashes.push(hash),
                    Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
            Ok(Changes::Hashes(hashes))
        }
    }
}

/// Subscription ids as geth makes them: `0x` and 32 hex digits, unpredictable across processes.
#[derive(Debug)]
pub(crate) struct HexIdProvider {
    seed: B256,
    counter: AtomicU64,
}

impl HexIdProvider {
    pub(crate) fn new() -> Self {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = keccak256([nanos.to_be_bytes(), u128::from(std::process::id()).to_be_bytes()].concat());
        Self { seed, counter: AtomicU64::new(0) }
    }
}

impl IdProvider for HexIdProvider {
    fn next_id(&self) -> SubscriptionId<'static> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hash = keccak256([self.seed.as_slice(), &n.to_be_bytes()].concat());
        SubscriptionId::Str(format!("0x{}", alloy_primitives::hex::encode(&hash[..16])).into())
    }
}

fn message(value: &impl Serialize) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(SubscriptionMessage::from(serde_json::value::to_raw_value(value)?))
}

/// Follows node events for one `eth_subscribe` until the client goes away.
async fn subscription(
    node: std::sync::Arc<Node>,
    pending: PendingSubscriptionSink,
    kind: String,
    filter: Option<Filter>,
    full_transactions: bool,
) -> SubscriptionResult {
    let mut events = node.subscribe();
    let sink = pending.accept().await?;
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        match (kind.as_str(), event) {
            ("newHeads", NodeEvent::Block { hash, .. }) => {
                let snapshot = node.snapshot()?;
                if let Some(header) = snapshot.header(hash)? {
                    let header = alloy_rpc_types_eth::Header::from_sealed(
                        alloy_primitives::Sealed::new_unchecked(header, hash),
                    );
                    sink.send(message(&header)?).await?;
                }
            }
            ("logs", NodeEvent::Block { hash, .. }) => {
                let snapshot = node.snapshot()?;
                let (Some(header), Some(body), Some(receipts)) =
                    (snapshot.header(hash)?, snapshot.body(hash)?, snapshot.receipts(hash)?)
                else {
                    continue;
                };
                let header = alloy_primitives::Sealed::new_unchecked(header, hash);
                for log in block_logs(&header, &body, &receipts) {
                    if filter.as_ref().is_none_or(|f| f.rpc_matches(&log)) {
                        sink.send(message(&log)?).await?;
                    }
                }
            }
            ("newPendingTransactions", NodeEvent::PendingTransaction(hash)) => {
                if !full_transactions {
                    sink.send(message(&hash)?).await?;
                } else if let Some(tx) = node.pooled(&hash) {
                    sink.send(message(&crate::convert::rpc_pending_transaction(&tx.tx, tx.sender))?).await?;
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn register(
    module: &mut RpcModule<Node>,
    filters: std::sync::Arc<Filters>,
) -> Result<(), RegisterMethodError> {
    let f = filters.clone();
    module.register_blocking_method("eth_newFilter", move |params, node, _| -> RpcResult<U256> {
        let filter: Filter = params.one()?;
        let next = match filter.block_option {
            FilterBlockOption::AtBlockHash(_) => {
                return Err(invalid_params("eth_newFilter does not take blockHash"))
            }
            FilterBlockOption::Range {
                from_block: Some(alloy_rpc_types_eth::BlockNumberOrTag::Number(n)),
                ..
            } => n,
            FilterBlockOption::Range {
                from_block: Some(alloy_rpc_types_eth::BlockNumberOrTag::Earliest),
                ..
            } => 0,
            _ => head_number(&node)? + 1,
        };
        Ok(f.install(FilterKind::Logs { filter: Box::new(filter), next }))
    })?;
    let f = filters.clone();
    module.register_blocking_method("eth_newBlockFilter", move |_, node, _| -> RpcResult<U256> {
        Ok(f.install(FilterKind::Blocks { next: head_number(&node)? + 1 }))
    })?;
    let f = filters.clone();
    module.register_method("eth_newPendingTransactionFilter", move |_, node, _| -> RpcResult<U256> {
        Ok(f.install(FilterKind::Pending { events: node.subscribe() }))
    })?;
    let f = filters.clone();
    module.register_blocking_method(
        "eth_getFilterChanges",
        move |params, node, _| -> RpcResult<Changes> {
            let id: U256 = params.one()?;
            changes(&node, &f, id)
        },
    )?;
    let f = filters.clone();
    module.register_blocking_method("eth_getFilterLogs", move |params, node, _| -> RpcResult<Vec<Log>> {
        let id: U256 = params.one()?;
        let filter = {
            let mut installed = f.installed.lock().unwrap_or_else(|p| p.into_inner());
            let entry = installed.get_mut(&id).ok_or_else(not_found)?;
            entry.last_poll = Instant::now();
            match &entry.kind {
                FilterKind::Logs { filter, .. } => (**filter).clone(),
                _ => return Err(invalid_params("filter is not a log filter")),
            }
        };
        logs(&node, &filter)
    })?;
    let f = filters;
    module.register_method("eth_uninstallFilter", move |params, _, _| -> RpcResult<bool> {
        let id: U256 = params.one()?;
        Ok(f.installed.lock().unwrap_or_else(|p| p.into_inner()).remove(&id).is_some())
    })?;
    module.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |params, pending, node, _| async move {
            let mut seq = params.sequence();
            let kind: String = match seq.next() {
                Ok(kind) => kind,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            let option: Option<serde_json::Value> = match seq.optional_next() {
                Ok(option) => option,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            // `logs` takes a filter; `newPendingTransactions` takes `true` for full transactions (geth).
            let (filter, full) = match (kind.as_str(), option) {
                ("logs", Some(value)) => match serde_json::from_value::<Filter>(value) {
                    Ok(filter) => (Some(filter), false),
                    Err(e) => {
                        pending.reject(invalid_params(format!("logs filter: {e}"))).await;
                        return Ok(());
                    }
                },
                ("newPendingTransactions", Some(serde_json::Value::Bool(full))) => (None, full),
                ("newHeads" | "logs" | "newPendingTransactions", None) => (None, false),
                ("newHeads" | "newPendingTransactions", Some(other)) => {
                    pending.reject(invalid_params(format!("{kind} takes no option like {other}"))).await;
                    return Ok(());
                }
                _ => {
                    pending.reject(invalid_params(format!("unsupported subscription `{kind}`"))).await;
                    return Ok(());
                }
            };
            subscription(node, pending, kind, filter, full).await
        },
    )?;
    Ok(())
}
