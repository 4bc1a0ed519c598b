//! `keel node` over JSON-RPC: persistence across `kill -9`, dev controls (snapshots, cheat codes, mining), filters,
//! and resilience to malformed requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bytecode, cast_ok, http_post, rpc, rpc_ok, start_keel, ACCOUNT1, KEY0};
use serde_json::{json, Value};

const ACCOUNT0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn send(url: &str, args: &[&str]) -> Value {
    let mut full = vec!["send", "--private-key", KEY0, "--json"];
    full.extend_from_slice(args);
    serde_json::from_str(&cast_ok(url, &full)).unwrap()
}

#[test]
fn chain_survives_kill_dash_nine() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("datadir");
    let (transfer, events, stored, block_number, balance, logs) = {
        let node = start_keel(&datadir);
        let transfer = send(&node.url, &[ACCOUNT1, "--value", "3ether"]);
        let deploy = send(&node.url, &["--create", &bytecode("Events")]);
        let events = deploy["contractAddress"].as_str().unwrap().to_string();
        let stored = send(&node.url, &[&events, "store(uint256,uint256)", "1", "42"]);
        let filter = json!([{"fromBlock": "0x0", "address": events}]);
        let logs = rpc_ok(&node.url, "eth_getLogs", filter);
        assert_eq!(logs.as_array().unwrap().len(), 1);
        let block_number = rpc_ok(&node.url, "eth_blockNumber", json!([]));
        let balance = rpc_ok(&node.url, "eth_getBalance", json!([ACCOUNT1, "latest"]));
        (transfer, events, stored, block_number, balance, logs)
        // `node` drops here: SIGKILL.
    };
    let node = start_keel(&datadir);
    assert_eq!(rpc_ok(&node.url, "eth_blockNumber", json!([])), block_number);
    assert_eq!(rpc_ok(&node.url, "eth_getBalance", json!([ACCOUNT1, "latest"])), balance);
    let receipt = rpc_ok(&node.url, "eth_getTransactionReceipt", json!([transfer["transactionHash"]]));
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["blockHash"], transfer["blockHash"]);
    let receipt = rpc_ok(&node.url, "eth_getTransactionReceipt", json!([stored["transactionHash"]]));
    assert_eq!(receipt["logs"], stored["logs"]);
    let filter = json!([{"fromBlock": "0x0", "address": events}]);
    assert_eq!(rpc_ok(&node.url, "eth_getLogs", filter), logs);
    let block = rpc_ok(&node.url, "eth_getBlockByNumber", json!([block_number, true]));
    assert_eq!(block["transactions"][0]["hash"], stored["transactionHash"]);
    // The chain goes on from where it was.
    let next = send(&node.url, &[ACCOUNT1, "--value", "1"]);
    assert_eq!(next["status"], "0x1");
    assert_eq!(rpc_ok(&node.url, "eth_getTransactionCount", json!([ACCOUNT0, "latest"])), "0x4");
}

#[test]
fn datadir_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("datadir");
    drop(start_keel(&datadir));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["node", "--port", "0", "--chain-id", "5", "--datadir"])
        .arg(&datadir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--datadir"), "{stderr}");
}

#[test]
fn snapshot_revert_and_cheat_codes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_keel(&dir.path().join("datadir"));
    let url = &node.url;
    let before = rpc_ok(url, "eth_getBalance", json!([ACCOUNT1, "latest"]));
    let snapshot = rpc_ok(url, "evm_snapshot", json!([]));
    let tx = send(url, &[ACCOUNT1, "--value", "1ether"]);
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), "0x1");
    assert_eq!(rpc_ok(url, "evm_revert", json!([snapshot])), true);
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), "0x0");
    assert_eq!(rpc_ok(url, "eth_getBalance", json!([ACCOUNT1, "latest"])), before);
    assert_eq!(rpc_ok(url, "eth_getTransactionReceipt", json!([tx["transactionHash"]])), Value::Null);
    // A reorganisation, as geth has them: the unwound block's transaction is back in the pool, pending.
    assert_eq!(rpc_ok(url, "txpool_status", json!([])), json!({"pending": "0x1", "queued": "0x0"}));
    let pooled = rpc_ok(url, "eth_getTransactionByHash", json!([tx["transactionHash"]]));
    assert_eq!(pooled["blockNumber"], Value::Null);
    // A reverted snapshot is gone.
    assert_eq!(rpc_ok(url, "evm_revert", json!([snapshot])), false);
    // The chain grows a new branch from the reverted head, which takes the transaction again.
    rpc_ok(url, "evm_mine", json!([]));
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), "0x1");
    assert_ne!(rpc_ok(url, "eth_getTransactionReceipt", json!([tx["transactionHash"]])), Value::Null);
    assert_eq!(rpc_ok(url, "txpool_status", json!([])), json!({"pending": "0x0", "queued": "0x0"}));

    let rich = "0x000000000000000000000000000000000000beef";
    rpc_ok(url, "anvil_setBalance", json!([rich, "0xde0b6b3a7640000"]));
    assert_eq!(rpc_ok(url, "eth_getBalance", json!([rich, "latest"])), "0xde0b6b3a7640000");
    rpc_ok(url, "anvil_setCode", json!([rich, "0x602a60005260206000f3"]));
    assert_eq!(rpc_ok(url, "eth_getCode", json!([rich, "latest"])), "0x602a60005260206000f3");
    let word = rpc_ok(url, "eth_call", json!([{"to": rich}, "latest"]));
    assert_eq!(word, format!("0x{:064x}", 42));
    rpc_ok(url, "anvil_setStorageAt", json!([rich, "0x1", format!("0x{:064x}", 7)]));
    assert_eq!(rpc_ok(url, "eth_getStorageAt", json!([rich, "0x1", "latest"])), format!("0x{:064x}", 7));
    rpc_ok(url, "anvil_setNonce", json!([rich, "0x5"]));
    assert_eq!(rpc_ok(url, "eth_getTransactionCount", json!([rich, "latest"])), "0x5");
    // Mined into the next block, and still there afterwards.
    rpc_ok(url, "evm_mine", json!([]));
    assert_eq!(rpc_ok(url, "eth_getBalance", json!([rich, "latest"])), "0xde0b6b3a7640000");
    assert_eq!(rpc_ok(url, "eth_getStorageAt", json!([rich, "0x1", "latest"])), format!("0x{:064x}", 7));

    // Impersonation: send from an account without its key; the receipt names it as sender.
    let whale = "0x000000000000000000000000000000000000cafe";
    rpc_ok(url, "anvil_setBalance", json!([whale, "0xde0b6b3a7640000"]));
    let refused = rpc(url, "eth_sendTransaction", json!([{"from": whale, "to": ACCOUNT1, "value": "0x1"}]));
    assert!(refused["error"]["message"].as_str().unwrap().contains("unknown account"), "{refused}");
    rpc_ok(url, "anvil_impersonateAccount", json!([whale]));
    let hash = rpc_ok(url, "eth_sendTransaction", json!([{"from": whale, "to": ACCOUNT1, "value": "0x1"}]));
    let receipt = rpc_ok(url, "eth_getTransactionReceipt", json!([hash]));
    assert_eq!((receipt["status"].as_str(), receipt["from"].as_str()), (Some("0x1"), Some(whale)));
    assert_eq!(rpc_ok(url, "eth_getTransactionByHash", json!([hash]))["from"], whale);
    assert_eq!(rpc_ok(url, "eth_getTransactionCount", json!([whale, "latest"])), "0x1");
    rpc_ok(url, "anvil_stopImpersonatingAccount", json!([whale]));
    assert!(rpc(url, "eth_sendTransaction", json!([{"from": whale, "to": ACCOUNT1}])).get("error").is_some());

    // Manual mining: transactions wait for evm_mine / anvil_mine.
    rpc_ok(url, "evm_setAutomine", json!([false]));
    let hash =
        rpc_ok(url, "eth_sendTransaction", json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x1"}]));
    assert_eq!(rpc_ok(url, "eth_getTransactionReceipt", json!([hash])), Value::Null);
    assert_eq!(rpc_ok(url, "eth_getTransactionByHash", json!([hash]))["blockHash"], Value::Null);
    let number = rpc_ok(url, "eth_blockNumber", json!([]));
    rpc_ok(url, "anvil_mine", json!(["0x3", "0xa"]));
    let receipt = rpc_ok(url, "eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1");
    let mined = u64::from_str_radix(number.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), format!("0x{:x}", mined + 3));
    let b1 = rpc_ok(url, "eth_getBlockByNumber", json!([format!("0x{:x}", mined + 2), false]));
    let b2 = rpc_ok(url, "eth_getBlockByNumber", json!([format!("0x{:x}", mined + 3), false]));
    let ts = |b: &Value| {
        u64::from_str_radix(b["timestamp"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    assert_eq!(ts(&b2) - ts(&b1), 10);

    // eth_call with block overrides sees the overridden env (NUMBER at the top of the stack, returned).
    let number_code = "0x4360005260206000f3"; // NUMBER PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    rpc_ok(url, "anvil_setCode", json!([rich, number_code]));
    let word = rpc_ok(url, "eth_call", json!([{"to": rich}, "latest", {}, {"number": "0x1234"}]));
    assert_eq!(word, format!("0x{:064x}", 0x1234));

    // anvil_reset: back to genesis.
    rpc_ok(url, "anvil_reset", json!([]));
    assert_eq!(rpc_ok(url, "eth_blockNumber", json!([])), "0x0");
    assert_eq!(rpc_ok(url, "eth_getBalance", json!([ACCOUNT1, "latest"])), before);
}

#[test]
fn block_and_log_filters_report_changes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_keel(&dir.path().join("datadir"));
    let url = &node.url;
    let deploy = send(url, &["--create", &bytecode("Events")]);
    let events = deploy["contractAddress"].as_str().unwrap().to_string();
    let blocks = rpc_ok(url, "eth_newBlockFilter", json!([]));
    let logs = rpc_ok(url, "eth_newFilter", json!([{"address": events}]));
    let pending = rpc_ok(url, "eth_newPendingTransactionFilter", json!([]));
    let a = send(url, &[&events, "store(uint256,uint256)", "1", "10"]);
    let b = send(url, &[&events, "store(uint256,uint256)", "2", "20"]);
    let new_blocks = rpc_ok(url, "eth_getFilterChanges", json!([blocks]));
    assert_eq!(new_blocks, json!([a["blockHash"], b["blockHash"]]));
    assert_eq!(rpc_ok(url, "eth_getFilterChanges", json!([blocks])), json!([]));
    let new_logs = rpc_ok(url, "eth_getFilterChanges", json!([logs]));
    assert_eq!(new_logs.as_array().unwrap().len(), 2);
    assert_eq!(new_logs[1]["transactionHash"], b["transactionHash"]);
    // geth: a filter without fromBlock/toBlock means "latest" for eth_getFilterLogs.
    assert_eq!(rpc_ok(url, "eth_getFilterLogs", json!([logs])).as_array().unwrap().len(), 1);
    let pending_hashes = rpc_ok(url, "eth_getFilterChanges", json!([pending]));
    assert_eq!(pending_hashes, json!([a["transactionHash"], b["transactionHash"]]));
    assert_eq!(rpc_ok(url, "eth_uninstallFilter", json!([blocks])), true);
    let gone = rpc(url, "eth_getFilterChanges", json!([blocks]));
    assert!(gone["error"]["message"].as_str().unwrap().contains("filter not found"), "{gone}");
}

/// 1,000 malformed requests: each gets a JSON-RPC error (or, for an oversized body, HTTP 413), and the node
/// keeps serving.
#[test]
fn malformed_requests_get_errors_and_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_keel(&dir.path().join("datadir"));
    let url = &node.url;
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let bad_params = [
        json!(["eth_getBalance", ["0x1234", "latest"]]),
        json!(["eth_getBalance", [12, "latest"]]),
        json!(["eth_getBalance", [ACCOUNT0, "notatag"]]),
        json!(["eth_getBalance", [ACCOUNT0, "0x1ffffffffffffffffffffffffffff"]]),
        json!(["eth_getBlockByNumber", ["0xffffffffffffffffffffffffffffffffffffff", false]]),
        json!([
            "eth_getStorageAt",
            [ACCOUNT0, "0x1000000000000000000000000000000000000000000000000000000000000000000", "latest"]
        ]),
        json!(["eth_sendRawTransaction", ["0x"]]),
        json!(["eth_sendRawTransaction", ["0xf86b"]]),
        json!(["eth_sendRawTransaction", ["0x02f8"]]),
        json!(["eth_sendRawTransaction", ["nothex"]]),
        json!(["eth_call", [{"to": ACCOUNT0, "data": "0x00", "input": "0x01"}]]),
        json!(["eth_call", [{"gas": "0xffffffffffffffffffffffffffff"}]]),
        json!(["eth_getLogs", [{"fromBlock": "0x0", "toBlock": "0xffffffffffff"}]]),
        json!(["eth_sendTransaction", [{"from": "0x0000000000000000000000000000000000000001", "to": ACCOUNT0}]]),
        json!(["eth_getTransactionByHash", ["0x12"]]),
        json!(["evm_revert", ["zzz"]]),
        json!(["anvil_setBalance", [ACCOUNT0]]),
        json!(["no_such_method", []]),
        json!(["eth_subscribe", ["nothing"]]),
        json!(["eth_getFilterChanges", ["0x99"]]),
    ];
    for i in 0..1000usize {
        let body: Vec<u8> = match i % 10 {
            0 => b"{not json".to_vec(),
            1 => b"[]".to_vec(),
            2 => format!("{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":{i}}}").into_bytes(),
            3 => b"\"just a string\"".to_vec(),
            4 => {
                // A signed transaction with its signature corrupted.
                let mut raw = String::from("0x02f86f827a69808477359400847735940082520894");
                raw.push_str(&"ab".repeat(20));
                raw.push_str("8080c001a0");
                raw.push_str(&"00".repeat(32));
                raw.push_str("a0");
                raw.push_str(&"ff".repeat(32));
                json!({"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]})
                    .to_string()
                    .into_bytes()
            }
            5 if i % 100 == 5 => vec![b' '; 3 * 1024 * 1024],
            _ => {
                let case = &bad_params[i % bad_params.len()];
                json!({"jsonrpc": "2.0", "id": i, "method": case[0], "params": case[1]})
                    .to_string()
                    .into_bytes()
            }
        };
        cases.push(body);
    }
    for (i, body) in cases.iter().enumerate() {
        let (status, response) = http_post(url, body);
        if body.len() > 2 * 1024 * 1024 {
            assert_eq!(status, 413, "case {i}: oversized body");
            continue;
        }
        assert!(
            response.contains("\"error\""),
            "case {i} ({}): no error in {response}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    // Still serving.
    assert_eq!(rpc_ok(url, "eth_chainId", json!([])), "0x7a69");
    let tx = send(url, &[ACCOUNT1, "--value", "1"]);
    assert_eq!(tx["status"], "0x1");
}

#[test]
fn config_file_sets_flags_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keel.toml");
    std::fs::write(&config, "chain-id = 4242\naccounts = 3\nephemeral = true\nport = 1\n").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--config"]).arg(&config).args(["--port", &common::free_port().to_string()]);
    let node = common::start(cmd);
    assert_eq!(rpc_ok(&node.url, "eth_chainId", json!([])), "0x1092");
    assert_eq!(rpc_ok(&node.url, "eth_accounts", json!([])).as_array().unwrap().len(), 3);

    std::fs::write(&config, "colour = \"blue\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["node", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keel.toml") && stderr.contains("colour"), "{stderr}");
}

#[test]
fn interval_mining_mines_pending_transactions_every_block_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--block-time", "1", "--port", &common::free_port().to_string(), "--datadir"])
        .arg(dir.path().join("datadir"));
    let node = common::start(cmd);
    let url = &node.url;
    let hash =
        rpc_ok(url, "eth_sendTransaction", json!([{"from": ACCOUNT0, "to": ACCOUNT1, "value": "0x1"}]));
    // Pooled, not mined, right after sending.
    assert_eq!(rpc_ok(url, "eth_getTransactionReceipt", json!([hash])), Value::Null);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let receipt = rpc_ok(url, "eth_getTransactionReceipt", json!([hash]));
        if receipt != Value::Null {
            assert_eq!(receipt["status"], "0x1");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not mined within 10 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Empty blocks keep coming, one per second.
    let first = rpc_ok(url, "eth_blockNumber", json!([]));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_ne!(rpc_ok(url, "eth_blockNumber", json!([])), first);
}

#[test]
fn batch_requests_answer_each_call_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_keel(&dir.path().join("datadir"));
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": [ACCOUNT0, "latest"]}
    ]);
    let (status, body) = http_post(&node.url, batch.to_string().as_bytes());
    assert_eq!(status, 200);
    let start = body.find('[').unwrap();
    let end = body.rfind(']').unwrap() + 1;
    let responses: Vec<Value> = serde_json::from_str(&body[start..end]).unwrap();
    let by_id = |id: u64| responses.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(by_id(1)["result"], "0x7a69");
    assert_eq!(by_id(2)["error"]["code"], -32601);
    assert_eq!(by_id(3)["result"], "0x21e19e0c9bab2400000");
}

#[test]
fn non_loopback_host_needs_an_explicit_flag() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["node", "--ephemeral", "--host", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-remote-admin"), "{stderr}");
}
