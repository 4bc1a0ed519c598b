//! Black-box tests of `keel blocktest`: ethereum/tests BlockchainTests through the node import path.
#![allow(clippy::unwrap_used)]

use std::{path::PathBuf, process::Command};

fn fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/blockchain");
    assert!(dir.is_dir(), "blockchain fixtures must exist at {} (shared/ beside the repo)", dir.display());
    dir
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

#[test]
fn every_blockchain_test_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("blocktest").arg(fixtures()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.contains(" FAIL")).take(20).collect();
    assert!(out.status.success(), "failures:\n{}", failures.join("\n"));
    // 291 tests in 66 files, all Cancun.
    assert_eq!(last_line(&stdout), "291 passed, 0 failed, 0 skipped");
}

/// `--stateless`: every imported block is also judged by the fault-proof client, the host serving the pre-state
/// built from the fixture.
#[test]
fn every_blockchain_test_passes_stateless() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["blocktest", "--stateless"])
        .arg(fixtures())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.contains(" FAIL")).take(20).collect();
    assert!(out.status.success(), "failures:\n{}", failures.join("\n"));
    assert_eq!(last_line(&stdout), "291 passed, 0 failed, 0 skipped");
}

/// A block from a real fixture with its RLP cut short: the error names the file and the field.
#[test]
fn truncated_block_rlp_names_file_and_field() {
    let source = fixtures().join("ValidBlocks/bcStateTests/testOpcode_40.json");
    let mut fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    let test = fixture.as_object_mut().unwrap().values_mut().next().unwrap();
    let rlp = test["blocks"][0]["rlp"].as_str().unwrap().to_string();
    test["blocks"][0]["rlp"] = serde_json::Value::String(rlp[..rlp.len() - 40].to_string());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.json");
    std::fs::write(&path, serde_json::to_string(&fixture).unwrap()).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("blocktest").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    let line = stdout.lines().find(|l| l.contains("FAIL")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("truncated.json"), "{line}");
    assert!(line.contains("testOpcode_40_Cancun.blocks[0].rlp"), "{line}");
    assert!(
        line.to_lowercase().contains("short") || line.contains("overflow") || line.contains("length"),
        "{line}"
    );
    assert_eq!(last_line(&stdout), "0 passed, 1 failed, 0 skipped");
}

/// A block whose state root was tampered with (and re-sealed) is rejected, naming the header field.
#[test]
fn block_with_wrong_state_root_fails_the_test() {
    use alloy_consensus::{Block, TxEnvelope};
    let source = fixtures().join("ValidBlocks/bcStateTests/testOpcode_40.json");
    let mut fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    let test = fixture.as_object_mut().unwrap().values_mut().next().unwrap();
    let rlp = alloy_primitives::hex::decode(test["blocks"][0]["rlp"].as_str().unwrap()).unwrap();
    let mut block: Block<TxEnvelope> = alloy_rlp::decode_exact(&rlp).unwrap();
    block.header.state_root = alloy_primitives::B256::repeat_byte(0x11);
    test["blocks"][0]["rlp"] = alloy_primitives::hex::encode_prefixed(alloy_rlp::encode(&block)).into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tampered.json");
    std::fs::write(&path, serde_json::to_string(&fixture).unwrap()).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_keel")).arg("blocktest").arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("FAIL") && stdout.contains("stateRoot"), "{stdout}");
}
