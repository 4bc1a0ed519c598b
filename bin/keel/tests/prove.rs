//! `keel prove` end to end: a chain built by a real `keel node` process, then host and client as two processes
//! over pipes: every block valid, a flipped claim invalid, a recorded run replayed with no datadir, and a
//! tampered recording refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::{bytecode, cast_ok, start_keel, ACCOUNT1, KEY0};
use std::process::Command;

fn prove(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("prove").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string())
}

fn field(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no `{name}` in {stdout}"))
        .trim()
        .to_string()
}

#[test]
fn prove_blocks_of_a_node_built_chain_and_replay_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let datadir = dir.path().join("datadir");
    {
        let node = start_keel(&datadir);
        let url = node.url.as_str();
        cast_ok(url, &["send", "--private-key", KEY0, ACCOUNT1, "--value", "1ether"]);
        cast_ok(url, &["send", "--private-key", KEY0, "--create", &bytecode("Events")]);
        // Events.store(1, 11) on the contract deployed at the dev account's nonce 1: a log and a storage write.
        let events = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
        cast_ok(url, &["send", "--private-key", KEY0, events, "store(uint256,uint256)", "1", "11"]);
    }
    let datadir = datadir.to_str().unwrap();
    for block in ["1", "2", "3"] {
        let (code, stdout) = prove(&["--block", block, "--datadir", datadir]);
        assert_eq!(code, 0, "block {block}: {stdout}");
        assert_eq!(field(&stdout, "verdict: "), "valid (client exit 0)");
    }
    // The whole range, each block by its own host/client pair, in parallel.
    let (code, stdout) = prove(&["--from", "1", "--to", "3", "--datadir", datadir]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.trim_end().lines().last().unwrap().starts_with("3 valid, 0 invalid, 0 errors"),
        "{stdout}"
    );
    // A claim with one bit flipped is invalid.
    let (_, stdout) = prove(&["--block", "2", "--datadir", datadir]);
    let root = field(&stdout, "claimed output root: ");
    let mut flipped = root.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let (code, stdout) = prove(&["--block", "2", "--datadir", datadir, "--claim", &flipped]);
    assert_eq!(code, 1, "{stdout}");

    // `keel host` serves any client program on fds 3–6 and returns its exit code: keel's own client, and a
    // program that dies at once (the host notices and returns, no hang).
    let keel = env!("CARGO_BIN_EXE_keel");
    let host = |client: &[&str]| {
        let started = std::time::Instant::now();
        let out = Command::new(keel)
            .args(["host", "--block", "2", "--datadir", datadir, "--"])
            .args(client)
            .output()
            .unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        out.status.code()
    };
    assert_eq!(host(&[keel, "client"]), Some(0));
    assert_eq!(host(&["sh", "-c", "exit 3"]), Some(3));

    // Record, delete the datadir, replay from the recording alone.
    let record = dir.path().join("record");
    let (code, recorded) =
        prove(&["--block", "2", "--datadir", datadir, "--record", record.to_str().unwrap()]);
    assert_eq!(code, 0, "{recorded}");
    std::fs::remove_dir_all(datadir).unwrap();
    let (code, replayed) = prove(&["--block", "2", "--kv", record.to_str().unwrap()]);
    assert_eq!(code, 0, "{replayed}");
    assert_eq!(field(&replayed, "claimed output root: "), root);
    let counts = |stdout: &str| field(stdout, "preimages: ").split(", time").next().unwrap().to_string();
    assert_eq!(counts(&replayed), counts(&recorded));

    // Tamper with one recorded value: the client refuses it (exit 2), never says valid.
    let victim = std::fs::read_dir(&record)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .next()
        .unwrap();
    let text = std::fs::read_to_string(&victim).unwrap();
    let mut tampered: Vec<char> = text.trim().chars().collect();
    tampered[0] = if tampered[0] == 'f' { 'e' } else { 'f' };
    std::fs::write(&victim, tampered.into_iter().collect::<String>()).unwrap();
    let (code, stdout) = prove(&["--block", "2", "--kv", record.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
}

fn verdict(url: &str, number: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let v = common::rpc_ok(url, "keel_blockVerdict", serde_json::json!([format!("0x{number:x}")]));
        if !v.is_null() && v["verdict"] != "pending" {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "block {number}: no verdict: {v}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A `keel node --verify-blocks` on a datadir under `dir`.
fn start_verifying(dir: &std::path::Path) -> common::Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--verify-blocks", "--port", &common::free_port().to_string(), "--datadir"])
        .arg(dir.join("datadir"));
    common::start(cmd)
}

#[test]
fn verify_blocks_judges_every_mined_block_in_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_verifying(dir.path());
    let url = node.url.as_str();
    cast_ok(url, &["send", "--private-key", KEY0, ACCOUNT1, "--value", "1ether"]);
    cast_ok(url, &["send", "--private-key", KEY0, "--create", &bytecode("Events")]);
    let events = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
    cast_ok(url, &["send", "--private-key", KEY0, events, "store(uint256,uint256)", "1", "11"]);
    // A reverting call, mined with status 0.
    cast_ok(
        url,
        &[
            "send",
            "--private-key",
            KEY0,
            "--gas-limit",
            "100000",
            events,
            "store(uint256,uint256)",
            "2",
            "5000",
        ],
    );
    let mut token = bytecode("Token");
    token.push_str(&format!("{:064x}", 1_000_000u64));
    cast_ok(url, &["send", "--private-key", KEY0, "--create", &token]);
    for number in 1..=5 {
        let v = verdict(url, number);
        assert_eq!(v["verdict"], "valid", "block {number}: {v}");
    }
    // The same blocks judged from the running node over JSON-RPC (debug_executionWitness / debug_dbGet): the host
    // shares nothing with the node but its RPC.
    for block in ["2", "5"] {
        let (code, stdout) = prove(&["--block", block, "--rpc", url]);
        assert_eq!(code, 0, "block {block} over RPC: {stdout}");
    }
    let (code, stdout) = prove(&["--block", "3", "--rpc", url, "--claim", &format!("0x{}", "11".repeat(32))]);
    assert_eq!(code, 1, "{stdout}");
    let witness = common::rpc_ok(url, "debug_executionWitness", serde_json::json!(["0x3"]));
    assert!(witness["preimages"].as_array().unwrap().len() > 5, "{witness}");
    // A block carrying a cheat-code overwrite cannot be re-derived from its transactions: never valid.
    common::rpc_ok(url, "anvil_setBalance", serde_json::json!([ACCOUNT1, "0x1"]));
    common::rpc_ok(url, "evm_mine", serde_json::json!([]));
    let v = verdict(url, 6);
    assert_ne!(v["verdict"], "valid", "{v}");
    assert!(!v["detail"].as_str().unwrap().is_empty(), "{v}");
}

/// `--verify-blocks` over a 1,000-block mixed workload (transfers, contract deployments, storage writes with logs,
/// reverting calls), signed here and sent raw: every verdict valid.
#[test]
fn verify_blocks_over_a_thousand_block_mixed_workload() {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    use alloy_primitives::{hex, keccak256, Address, Bytes, TxKind, U256};
    use alloy_signer::SignerSync;

    let dir = tempfile::tempdir().unwrap();
    let node = start_verifying(dir.path());
    let url = node.url.as_str();
    let key: alloy_signer_local::PrivateKeySigner = KEY0.parse().unwrap();
    let me = key.address();
    let events_code = hex::decode(bytecode("Events")).unwrap();
    let mut events = Vec::new();
    let blocks = 1000u64;
    for nonce in 0..blocks {
        let (to, input) = match nonce % 10 {
            0 if nonce % 100 == 0 => {
                events.push(me.create(nonce));
                (TxKind::Create, events_code.clone())
            }
            3 | 6 => {
                let mut call = keccak256("store(uint256,uint256)")[..4].to_vec();
                call.extend_from_slice(&U256::from(nonce).to_be_bytes::<32>());
                // Values above 1000 revert (TooLarge); they are mined with status 0.
                let value = if nonce % 20 == 6 { 5000u64 } else { nonce };
                call.extend_from_slice(&U256::from(value).to_be_bytes::<32>());
                (TxKind::Call(*events.last().unwrap()), call)
            }
            _ => (TxKind::Call(Address::from_word(keccak256(nonce.to_be_bytes()))), Vec::new()),
        };
        let tx = TxEip1559 {
            chain_id: 31337,
            nonce,
            gas_limit: 1_000_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value: U256::from(nonce),
            access_list: Default::default(),
            input: Bytes::from(input),
        };
        let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        let raw = TxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718();
        common::rpc_ok(url, "eth_sendRawTransaction", serde_json::json!([format!("0x{}", hex::encode(raw))]));
    }
    assert_eq!(common::rpc_ok(url, "eth_blockNumber", serde_json::json!([])), format!("0x{blocks:x}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    for number in 1..=blocks {
        loop {
            let v = common::rpc_ok(url, "keel_blockVerdict", serde_json::json!([format!("0x{number:x}")]));
            if v["verdict"] == "valid" {
                break;
            }
            assert!(v["verdict"] == "pending" || v.is_null(), "block {number}: {v}");
            assert!(std::time::Instant::now() < deadline, "block {number}: no verdict in time");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
