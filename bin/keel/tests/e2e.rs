//! End to end with real tools: cast (foundry 1.7.1, from npm) drives `keel node`, and the very same scenario runs
//! against anvil; the normalized answers must agree field by field. Needs `scripts/setup-tools.sh` (the README
//! test command runs it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bytecode, cast, cast_ok, start_anvil, start_keel, ACCOUNT1, KEY0};
use serde_json::{json, Value};
use std::time::Instant;

/// The fields of a receipt that do not depend on timestamps or block hashes.
fn receipt_fields(receipt: &Value) -> Value {
    let logs: Vec<Value> = receipt["logs"]
        .as_array()
        .map(|logs| {
            logs.iter()
                .map(|l| json!({"address": l["address"], "topics": l["topics"], "data": l["data"], "logIndex": l["logIndex"]}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "status": receipt["status"], "gasUsed": receipt["gasUsed"], "cumulativeGasUsed": receipt["cumulativeGasUsed"],
        "from": receipt["from"], "to": receipt["to"], "contractAddress": receipt["contractAddress"],
        "type": receipt["type"], "effectiveGasPrice": receipt["effectiveGasPrice"], "logs": logs,
        "logsBloom": receipt["logsBloom"], "transactionIndex": receipt["transactionIndex"],
    })
}

fn send(url: &str, args: &[&str]) -> Value {
    let mut full = vec!["send", "--private-key", KEY0, "--json"];
    full.extend_from_slice(args);
    serde_json::from_str(&cast_ok(url, &full)).unwrap()
}

/// A revert message as cast shows it, without cast's own framing that names the endpoint.
fn revert_text(stderr: &str) -> String {
    stderr.lines().find(|l| l.contains("revert")).unwrap_or(stderr).trim().to_string()
}

/// The scenario: every step's normalized answer, by name.
fn scenario(url: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut step = |name: &str, value: Value| out.push((name.to_string(), value));
    step("chain-id", json!(cast_ok(url, &["chain-id"])));
    step("block-number", json!(cast_ok(url, &["block-number"])));
    step("balance", json!(cast_ok(url, &["balance", ACCOUNT1])));

    let transfer = send(url, &[ACCOUNT1, "--value", "1ether"]);
    step("eth transfer", receipt_fields(&transfer));
    step("balance after", json!(cast_ok(url, &["balance", ACCOUNT1])));
    step("nonce", json!(cast_ok(url, &["nonce", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"])));

    let supply = "0000000000000000000000000000000000000000000000000de0b6b3a7640000"; // 1e18
    let deploy = send(url, &["--create", &format!("{}{supply}", bytecode("Token"))]);
    step("deploy token", receipt_fields(&deploy));
    let token = deploy["contractAddress"].as_str().unwrap().to_string();
    step("token code size", json!(cast_ok(url, &["codesize", &token])));
    let transfer = send(url, &[&token, "transfer(address,uint256)", ACCOUNT1, "1000"]);
    step("token transfer", receipt_fields(&transfer));
    step("token balance", json!(cast_ok(url, &["call", &token, "balanceOf(address)(uint256)", ACCOUNT1])));
    step("token name", json!(cast_ok(url, &["call", &token, "name()(string)"])));
    step(
        "estimate transfer",
        json!(cast_ok(
            url,
            &[
                "estimate",
                "--from",
                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                &token,
                "transfer(address,uint256)",
                ACCOUNT1,
                "1"
            ]
        )),
    );
    let logs: Value = serde_json::from_str(&cast_ok(
        url,
        &[
            "logs",
            "--json",
            "--from-block",
            "0",
            "--address",
            &token,
            "Transfer(address indexed,address indexed,uint256)",
        ],
    ))
    .unwrap();
    let logs: Vec<Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"topics": l["topics"], "data": l["data"], "blockNumber": l["blockNumber"], "logIndex": l["logIndex"], "transactionIndex": l["transactionIndex"], "removed": l["removed"]}))
        .collect();
    step("token logs", json!(logs));
    let tx = transfer["transactionHash"].as_str().unwrap().to_string();
    let receipt: Value = serde_json::from_str(&cast_ok(url, &["receipt", "--json", &tx])).unwrap();
    step("cast receipt", receipt_fields(&receipt));
    let fetched: Value = serde_json::from_str(&cast_ok(url, &["tx", "--json", &tx])).unwrap();
    step(
        "cast tx",
        json!({"from": fetched["from"], "to": fetched["to"], "nonce": fetched["nonce"], "input": fetched["input"], "value": fetched["value"], "type": fetched["type"], "gas": fetched["gas"], "hash": fetched["hash"]}),
    );

    let deploy = send(url, &["--create", &bytecode("Events")]);
    step("deploy events", receipt_fields(&deploy));
    let events = deploy["contractAddress"].as_str().unwrap().to_string();
    let stored = send(url, &[&events, "store(uint256,uint256)", "7", "5"]);
    step("store", receipt_fields(&stored));
    step("stored value", json!(cast_ok(url, &["call", &events, "values(uint256)(uint256)", "7"])));
    step("storage slot", json!(cast_ok(url, &["storage", &events, "0x00"])));
    let (ok, _, err) = cast(url, &["call", &events, "store(uint256,uint256)", "7", "5000"]);
    step("custom error", json!({"ok": ok, "error": revert_text(&err)}));
    let (ok, _, err) = cast(url, &["call", &events, "fail(string)", "boom"]);
    step("string revert", json!({"ok": ok, "error": revert_text(&err)}));
    let (ok, _, err) = cast(url, &["call", &events, "divide(uint256,uint256)(uint256)", "1", "0"]);
    step("panic", json!({"ok": ok, "error": revert_text(&err)}));
    let (ok, _, err) =
        cast(url, &["send", "--private-key", KEY0, &events, "store(uint256,uint256)", "7", "5000"]);
    step("send reverting", json!({"ok": ok, "error": revert_text(&err)}));

    let stored_tx = stored["transactionHash"].as_str().unwrap().to_string();
    let calls: Value = serde_json::from_str(&cast_ok(
        url,
        &["rpc", "debug_traceTransaction", &stored_tx, r#"{"tracer":"callTracer"}"#],
    ))
    .unwrap();
    step("callTracer", calls);
    let logs: Value =
        serde_json::from_str(&cast_ok(url, &["rpc", "debug_traceTransaction", &stored_tx, "{}"])).unwrap();
    let ops: Vec<Value> = logs["structLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!([l["pc"], l["op"], l["gas"], l["gasCost"], l["depth"], l["stack"]]))
        .collect();
    step(
        "struct logs",
        json!({"gas": logs["gas"], "failed": logs["failed"], "returnValue": logs["returnValue"], "ops": ops}),
    );
    let request = json!({"from": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "to": &events,
        "data": format!("0x{}{:064x}{:064x}", "6ed28ed0", 9, 3)});
    let traced: Value = serde_json::from_str(&cast_ok(
        url,
        &["rpc", "debug_traceCall", &request.to_string(), "latest", r#"{"tracer":"callTracer"}"#],
    ))
    .unwrap();
    step("debug_traceCall", traced);
    let access: Value =
        serde_json::from_str(&cast_ok(url, &["rpc", "eth_createAccessList", &request.to_string(), "latest"]))
            .unwrap();
    step("createAccessList", access);

    let typed = json!({
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"}],
            "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"}]
        },
        "primaryType": "Mail",
        "domain": {"name": "keel", "chainId": 31337},
        "message": {"to": ACCOUNT1, "contents": "hello"}
    });
    let account0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    step(
        "eth_signTypedData_v4",
        json!(cast_ok(url, &["rpc", "eth_signTypedData_v4", account0, &typed.to_string()])),
    );
    step("eth_sign", json!(cast_ok(url, &["rpc", "eth_sign", account0, "0xdeadbeef"])));

    let block: Value = serde_json::from_str(&cast_ok(url, &["block", "latest", "--json"])).unwrap();
    step(
        "latest block",
        json!({"number": block["number"], "gasUsed": block["gasUsed"], "gasLimit": block["gasLimit"], "baseFeePerGas": block["baseFeePerGas"], "transactions": block["transactions"], "miner": block["miner"], "logsBloom": block["logsBloom"]}),
    );
    out
}

/// `cast proof` of the token's balance slot, checked against the block's state root with keel's verifier.
fn check_proof(url: &str, account: &str) {
    let proof: Value = serde_json::from_str(&cast_ok(url, &["proof", account, "0x0", "--json"])).unwrap();
    let block: Value = serde_json::from_str(&cast_ok(url, &["block", "latest", "--json"])).unwrap();
    let root: alloy_primitives::B256 = block["stateRoot"].as_str().unwrap().parse().unwrap();
    let nodes: Vec<alloy_primitives::Bytes> = serde_json::from_value(proof["accountProof"].clone()).unwrap();
    let address: alloy_primitives::Address = account.parse().unwrap();
    let key = alloy_primitives::keccak256(address);
    let leaf = keel_trie::verify_proof(root, key.as_slice(), &nodes).unwrap().expect("account exists");
    let decoded: keel_primitives::StateAccount = alloy_rlp::decode_exact(&leaf).unwrap();
    assert_eq!(decoded.storage_root.to_string(), proof["storageHash"].as_str().unwrap());
}

#[test]
fn cast_scenario_matches_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let keel = start_keel(&dir.path().join("datadir"));
    let anvil = start_anvil();
    let started = Instant::now();
    let ours = scenario(&keel.url);
    let theirs = scenario(&anvil.url);
    assert_eq!(ours.len(), theirs.len());
    let mut differences = Vec::new();
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        if a != b {
            differences.push(format!("{name}:\n  keel:  {a}\n  anvil: {b}"));
        }
    }
    assert!(differences.is_empty(), "keel and anvil differ:\n{}", differences.join("\n"));
    let token = ours.iter().find(|(n, _)| n == "deploy token").unwrap().1["contractAddress"]
        .as_str()
        .unwrap()
        .to_string();
    check_proof(&keel.url, &token);
    check_proof(&anvil.url, &token);
    eprintln!("scenario ran on both nodes in {:?}", started.elapsed());
}

/// ethers v6 (npm): deploy, WebSocket subscriptions to newHeads and logs, log-filter polling, custom-error
/// decoding; the same script against anvil must see the same things.
#[test]
fn ethers_scenario_matches_anvil() {
    let run = |http: &str| -> serde_json::Value {
        let ws = http.replace("http://", "ws://");
        let script = common::repo().join("tools/e2e/ethers-scenario.mjs");
        let out = std::process::Command::new("node")
            .arg(&script)
            .args([http, &ws])
            .arg(common::repo().join("contracts/out/Events.bin"))
            .arg(common::repo().join("contracts/out/Events.abi"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ethers scenario against {http}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let keel = start_keel(&dir.path().join("datadir"));
    let anvil = start_anvil();
    let ours = run(&keel.url);
    let theirs = run(&anvil.url);
    assert_eq!(ours["headsSeen"], true, "{ours}");
    assert_eq!(ours["events"].as_array().unwrap().len(), 3, "{ours}");
    assert_eq!(ours["polled"].as_array().unwrap().len(), 3, "{ours}");
    assert_eq!(ours["revert"]["name"], "TooLarge", "{ours}");
    assert_eq!(ours, theirs);
}
