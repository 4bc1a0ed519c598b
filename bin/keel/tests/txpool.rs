//! The transaction pool, black-box: a running `keel node` driven over JSON-RPC only. Transactions are signed
//! here, balances changed with anvil_setBalance, blocks mined with evm_mine, the chain reorganised with
//! evm_snapshot / evm_revert and the process restarted; the suite checks counts, statuses, pending-transaction
//! events and geth's error messages.
#![allow(clippy::unwrap_used)]

mod common;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{hex, Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use common::{free_port, rpc, rpc_ok, start, Running};
use serde_json::{json, Value};
use std::process::Command;

const CHAIN_ID: u64 = 31337;
const GWEI: u128 = 1_000_000_000;

fn start_manual(datadir: &std::path::Path) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--no-mining", "--port", &free_port().to_string(), "--datadir"]).arg(datadir);
    start(cmd)
}

/// A fresh key (not a dev account: it starts with no balance).
fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&alloy_primitives::B256::from(U256::from(0x5eed_0000 + i))).unwrap()
}

struct Tx {
    nonce: u64,
    fee_cap: u128,
    tip: u128,
    gas: u64,
    chain_id: u64,
    value: u128,
}

impl Default for Tx {
    fn default() -> Self {
        Self { nonce: 0, fee_cap: 10 * GWEI, tip: GWEI, gas: 21_000, chain_id: CHAIN_ID, value: 1 }
    }
}

fn raw(key: &PrivateKeySigner, t: Tx) -> (String, String) {
    let tx = TxEip1559 {
        chain_id: t.chain_id,
        nonce: t.nonce,
        gas_limit: t.gas,
        max_fee_per_gas: t.fee_cap,
        max_priority_fee_per_gas: t.tip,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(t.value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope = TxEnvelope::Eip1559(tx.into_signed(signature));
    (format!("0x{}", hex::encode(envelope.encoded_2718())), envelope.tx_hash().to_string())
}

fn send(url: &str, key: &PrivateKeySigner, t: Tx) -> Value {
    rpc(url, "eth_sendRawTransaction", json!([raw(key, t).0]))
}

fn error_message(response: &Value) -> String {
    response["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {response}"))
        .to_string()
}

fn status(url: &str) -> (u64, u64) {
    let s = rpc_ok(url, "txpool_status", json!([]));
    let n = |v: &Value| u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    (n(&s["pending"]), n(&s["queued"]))
}

fn fund(url: &str, address: Address, wei: u128) {
    rpc_ok(url, "anvil_setBalance", json!([address, format!("0x{wei:x}")]));
}

#[test]
fn pool_over_rpc_counts_statuses_events_errors_reorgs_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("datadir");
    let node = start_manual(&datadir);
    let url = node.url.as_str();
    let alice = key(1);
    let filter = rpc_ok(url, "eth_newPendingTransactionFilter", json!([]));

    // No balance yet: geth's message, with the details after it.
    let poor = error_message(&send(url, &alice, Tx::default()));
    assert!(poor.starts_with("insufficient funds for gas * price + value: balance 0, tx cost"), "{poor}");
    // anvil_setBalance changes what the pool admits at once.
    fund(url, alice.address(), 10u128.pow(18));
    let (_, h0) = raw(&alice, Tx::default());
    assert_eq!(rpc_ok(url, "eth_sendRawTransaction", json!([raw(&alice, Tx::default()).0])), h0);
    rpc_ok(url, "eth_sendRawTransaction", json!([raw(&alice, Tx { nonce: 1, ..Tx::default() }).0]));
    rpc_ok(url, "eth_sendRawTransaction", json!([raw(&alice, Tx { nonce: 3, ..Tx::default() }).0]));
    assert_eq!(status(url), (2, 1), "nonces 0 and 1 pending, 3 queued behind the gap");
    assert_eq!(rpc_ok(url, "eth_getTransactionCount", json!([alice.address(), "pending"])), "0x2");
    // Only executable transactions are announced.
    let announced = rpc_ok(url, "eth_getFilterChanges", json!([filter]));
    assert_eq!(announced.as_array().unwrap().len(), 2, "{announced}");
    assert_eq!(announced[0], h0);

    // Admission errors, in geth's words.
    let cases: Vec<(Tx, &str)> = vec![
        (Tx::default(), "already known"),
        (Tx { value: 2, ..Tx::default() }, "replacement transaction underpriced"),
        (
            Tx { fee_cap: GWEI, tip: 2 * GWEI, nonce: 4, ..Tx::default() },
            "max priority fee per gas higher than max fee per gas",
        ),
        (Tx { chain_id: 1, nonce: 4, ..Tx::default() }, "invalid sender"),
        (Tx { gas: 30_000_001, nonce: 4, ..Tx::default() }, "exceeds block gas limit"),
        (Tx { gas: 20_000, nonce: 4, ..Tx::default() }, "intrinsic gas too low"),
    ];
    for (tx, message) in cases {
        let got = error_message(&send(url, &alice, tx));
        assert!(got.starts_with(message), "want `{message}`, got `{got}`");
    }
    // A bumped replacement (fee cap and tip +10%) is accepted and replaces the pending one.
    let bumped = Tx { fee_cap: 11 * GWEI, tip: GWEI + GWEI / 10, value: 2, ..Tx::default() };
    let (bumped, replacement) = raw(&alice, bumped);
    assert_eq!(rpc_ok(url, "eth_sendRawTransaction", json!([bumped])), replacement);
    assert_eq!(status(url), (2, 1));
    assert_eq!(
        rpc_ok(url, "eth_getTransactionByHash", json!([h0])),
        Value::Null,
        "the replaced tx left the pool"
    );

    // geth's inspect format and content layout.
    let inspect = rpc_ok(url, "txpool_inspect", json!([]));
    let mine = &inspect["pending"][alice.address().to_checksum(None)];
    assert_eq!(
        mine["1"],
        format!("{}: 1 wei + 21000 gas × {} wei", Address::repeat_byte(0x42).to_checksum(None), 10 * GWEI)
    );
    let from = rpc_ok(url, "txpool_contentFrom", json!([alice.address()]));
    assert_eq!(from["pending"]["0"]["hash"], replacement);
    assert!(from["queued"]["3"].is_object());

    // Filling the gap promotes the queued one.
    rpc_ok(url, "eth_sendRawTransaction", json!([raw(&alice, Tx { nonce: 2, ..Tx::default() }).0]));
    assert_eq!(status(url), (4, 0));

    // Mining takes them all; a stale nonce is then too low.
    let snapshot = rpc_ok(url, "evm_snapshot", json!([]));
    rpc_ok(url, "evm_mine", json!([]));
    assert_eq!(status(url), (0, 0));
    let block = rpc_ok(url, "eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(block["transactions"].as_array().unwrap().len(), 4);
    let low = error_message(&send(url, &alice, Tx { nonce: 1, fee_cap: 20 * GWEI, ..Tx::default() }));
    assert!(low.starts_with("nonce too low: next nonce 4, tx nonce 1"), "{low}");

    // A reorganisation (evm_revert) puts the unwound block's transactions back, pending again.
    assert_eq!(rpc_ok(url, "evm_revert", json!([snapshot])), true);
    assert_eq!(status(url), (4, 0));
    assert_eq!(rpc_ok(url, "eth_getTransactionCount", json!([alice.address(), "latest"])), "0x0");

    // Dropping the balance demotes / drops what can no longer be paid for.
    fund(url, alice.address(), 2 * 21_000 * 11 * GWEI);
    let (pending, queued) = status(url);
    assert!(pending < 4 && pending + queued <= 4, "pending {pending}, queued {queued}");
    fund(url, alice.address(), 10u128.pow(18));
    assert_eq!(status(url), (4, 0));

    // kill -9 and restart: the local transactions come back from the journal.
    let pid = node.child.id();
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    drop(node);
    let node = start_manual(&datadir);
    let url = node.url.as_str();
    // anvil_setBalance patches are not persisted before a block: fund again, then the journal's transactions
    // pass admission on the next upkeep or are already back.
    let (pending, _) = status(url);
    assert!(pending <= 4);
    fund(url, alice.address(), 10u128.pow(18));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(url) != (4, 0) {
        assert!(std::time::Instant::now() < deadline, "local transactions not restored: {:?}", status(url));
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let before = rpc_ok(url, "eth_blockNumber", json!([]));
    rpc_ok(url, "evm_mine", json!([]));
    assert_eq!(status(url), (0, 0));
    assert_eq!(rpc_ok(url, "eth_getTransactionCount", json!([alice.address(), "latest"])), "0x4");
    // debug_setHead is a reorganisation too. The rewound block also carried the anvil_setBalance overwrite, so
    // alice is unfunded again and the pool turns the reinjected transactions away; they are local, so once she
    // is funded the node resubmits them.
    rpc_ok(url, "debug_setHead", json!([before]));
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), before);
    assert_eq!(rpc_ok(url, "eth_getBalance", json!([alice.address(), "latest"])), "0x0");
    fund(url, alice.address(), 10u128.pow(18));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(url) != (4, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "local transactions not resubmitted: {:?}",
            status(url)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let ahead = rpc(url, "debug_setHead", json!(["0xffff"]));
    assert!(error_message(&ahead).contains("only rewinds"), "{ahead}");
}

#[test]
fn miner_set_gas_price_drops_cheaper_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_manual(&dir.path().join("datadir"));
    let url = node.url.as_str();
    let bob = key(2);
    fund(url, bob.address(), 10u128.pow(18));
    rpc_ok(url, "eth_sendRawTransaction", json!([raw(&bob, Tx { tip: 1, ..Tx::default() }).0]));
    rpc_ok(
        url,
        "eth_sendRawTransaction",
        json!([raw(&bob, Tx { nonce: 1, tip: 5 * GWEI, ..Tx::default() }).0]),
    );
    assert_eq!(status(url), (2, 0));
    rpc_ok(url, "miner_setGasPrice", json!(["0x3b9aca00"]));
    // The 1-wei tip is gone, and its follower can no longer execute.
    let (pending, queued) = status(url);
    assert_eq!(pending, 0, "queued {queued}");
    let low = error_message(&send(url, &bob, Tx { nonce: 0, tip: 1, fee_cap: 20 * GWEI, ..Tx::default() }));
    assert!(low.starts_with("transaction underpriced"), "{low}");
}

/// eth_subscribe("newPendingTransactions") delivers hashes, and full transactions with geth's `true` option.
#[test]
fn pending_transaction_subscriptions_deliver_hashes_and_full_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_manual(&dir.path().join("datadir"));
    let ws = node.url.replace("http://", "ws://");
    let out = Command::new("node")
        .arg(common::repo().join("tools/e2e/pending-subscription.mjs"))
        .args([node.url.as_str(), ws.as_str()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["hashes"], seen["sent"], "{seen}");
    assert_eq!(seen["full"]["hash"], seen["sent"], "{seen}");
    assert_eq!(
        seen["full"]["from"].as_str().unwrap().to_lowercase(),
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "{seen}"
    );
}
