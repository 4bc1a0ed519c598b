//! Encrypted datadirs end to end (`keel node --encrypt`, `keel db init|rekey|verify`): nothing readable on disk,
//! tampering detected and never served, key checks on open, and a rekey that survives `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{hex, keccak256, Address};
use common::{cast_ok, free_port, rpc, rpc_ok, start, Running, KEY0};
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

const CODE_MARKER: &[u8; 16] = b"keel-code-marker";
const STORAGE_MARKER: &[u8; 32] = b"keel-storage-marker-0123456789ab";
/// The recipient's balance, in wei: the bytes "KeelBala".
const BALANCE_MARKER: &[u8; 8] = b"KeelBala";
const RECIPIENT: &str = "0xc0ffee254729296a45a3885639ac7e10f9d54979";
const DEV0: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

fn keel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keel"))
}

/// The deployed code: `PUSH16 CODE_MARKER POP STOP`.
fn runtime_code() -> Vec<u8> {
    let mut code = vec![0x6f];
    code.extend_from_slice(CODE_MARKER);
    code.extend_from_slice(&[0x50, 0x00]);
    code
}

/// Stores STORAGE_MARKER in slot 7, then returns the runtime code.
fn init_code() -> String {
    let mut code = vec![0x7f];
    code.extend_from_slice(STORAGE_MARKER);
    code.extend_from_slice(&[0x60, 0x07, 0x55]); // SSTORE(7, marker)
    code.extend_from_slice(&[0x60, 0x13, 0x80, 0x60, 0x2f, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3]);
    assert_eq!(code.len(), 0x2f);
    code.extend_from_slice(&runtime_code());
    format!("0x{}", hex::encode(code))
}

fn start_node(datadir: &Path, key_file: Option<&Path>) -> Running {
    let mut cmd = keel();
    cmd.args(["node", "--port", &free_port().to_string(), "--datadir"]).arg(datadir);
    if let Some(key_file) = key_file {
        cmd.arg("--encrypt").arg("--key-file").arg(key_file);
    }
    start(cmd)
}

/// An encrypted node that mines only when asked (so pending transactions stay pending).
fn start_manual(datadir: &Path, key_file: &Path) -> Running {
    let mut cmd = keel();
    cmd.args(["node", "--no-mining", "--encrypt", "--port", &free_port().to_string(), "--datadir"])
        .arg(datadir);
    cmd.arg("--key-file").arg(key_file);
    start(cmd)
}

/// Stops a node as Ctrl-C does (a clean shutdown: journal checkpointed, redb closed).
fn stop(mut node: Running) {
    let pid = node.child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    for _ in 0..100 {
        if node.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the node did not stop on SIGINT");
}

/// Runs `keel node` expecting it to refuse to start; returns its stderr.
fn refused(datadir: &Path, key_file: Option<&Path>) -> String {
    let mut cmd = keel();
    cmd.args(["node", "--port", &free_port().to_string(), "--datadir"]).arg(datadir);
    if let Some(key_file) = key_file {
        cmd.arg("--encrypt").arg("--key-file").arg(key_file);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "expected a clean refusal: {out:?}");
    String::from_utf8_lossy(&out.stderr).to_string()
}

struct Chain {
    contract: String,
}

/// A chain whose state holds the markers: a transfer of BALANCE_MARKER wei, a contract with CODE_MARKER in its
/// code and STORAGE_MARKER in its storage.
fn write_marker_chain(node: &Running) -> Chain {
    let value = format!("0x{}", hex::encode(BALANCE_MARKER));
    cast_ok(&node.url, &["send", "--private-key", KEY0, RECIPIENT, "--value", &value]);
    let receipt = cast_ok(&node.url, &["send", "--private-key", KEY0, "--json", "--create", &init_code()]);
    let receipt: serde_json::Value = serde_json::from_str(&receipt).unwrap();
    let contract = receipt["contractAddress"].as_str().unwrap().to_string();
    check_chain(node, &contract);
    Chain { contract }
}

fn check_chain(node: &Running, contract: &str) {
    let balance = rpc_ok(&node.url, "eth_getBalance", json!([RECIPIENT, "latest"]));
    assert_eq!(balance, json!(format!("0x{}", hex::encode(BALANCE_MARKER))));
    let slot = rpc_ok(&node.url, "eth_getStorageAt", json!([contract, "0x7", "latest"]));
    assert_eq!(slot, json!(format!("0x{}", hex::encode(STORAGE_MARKER))));
    let code = rpc_ok(&node.url, "eth_getCode", json!([contract, "latest"]));
    assert_eq!(code, json!(format!("0x{}", hex::encode(runtime_code()))));
}

/// Every needle (with its name) found in any file under `dir`.
fn scan(dir: &Path, needles: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(scan(&path, needles));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for (name, needle) in needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{name} in {}", path.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    found
}

fn address(text: &str) -> Vec<u8> {
    text.parse::<Address>().unwrap().to_vec()
}

/// What must not be on disk in an encrypted datadir. The first group is on disk in a plain one (the control).
/// Byte strings to look for, each with a name.
type Needles = Vec<(String, Vec<u8>)>;

fn needles(chain: &Chain) -> (Needles, Needles) {
    let named = |name: &str, bytes: Vec<u8>| (name.to_string(), bytes);
    let in_plain = vec![
        named("code marker", CODE_MARKER.to_vec()),
        named("storage marker", STORAGE_MARKER.to_vec()),
        named("balance marker", BALANCE_MARKER.to_vec()),
        named("recipient address", address(RECIPIENT)),
        named("contract address", address(&chain.contract)),
        named("sender address", address(DEV0)),
        named("keccak(code)", keccak256(runtime_code()).to_vec()),
    ];
    let hashes = vec![
        named("keccak(recipient)", keccak256(address(RECIPIENT)).to_vec()),
        named("keccak(contract)", keccak256(address(&chain.contract)).to_vec()),
        named("keccak(storage marker)", keccak256(STORAGE_MARKER).to_vec()),
        named("keccak(balance marker)", keccak256(BALANCE_MARKER).to_vec()),
        named("keccak(code marker)", keccak256(CODE_MARKER).to_vec()),
    ];
    (in_plain, hashes)
}

fn init_encrypted(dir: &Path) -> (PathBuf, PathBuf) {
    let datadir = dir.join("data");
    let key_file = dir.join("key.hex");
    let out = keel()
        .args(["db", "init", "--datadir"])
        .arg(&datadir)
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (datadir, key_file)
}

#[test]
fn encrypted_datadir_reveals_no_marker_and_plain_one_does() {
    let dir = tempfile::tempdir().unwrap();
    for encrypted in [true, false] {
        let (datadir, key_file) = if encrypted {
            init_encrypted(dir.path())
        } else {
            (dir.path().join("plain"), dir.path().join("unused"))
        };
        let key = encrypted.then_some(key_file.as_path());
        // Phase 1: killed while the chain is in the journal; phase 2: reopened (replayed into redb), killed again.
        let chain = {
            let node = start_node(&datadir, key);
            write_marker_chain(&node)
        };
        let (in_plain, hashes) = needles(&chain);
        let journal_phase = scan(&datadir, &in_plain);
        {
            let node = start_node(&datadir, key);
            check_chain(&node, &chain.contract);
            std::thread::sleep(Duration::from_millis(2500));
        }
        let redb_phase = scan(&datadir, &in_plain);
        let hashed = scan(&datadir, &hashes);
        if encrypted {
            assert!(journal_phase.is_empty(), "encrypted datadir leaks: {journal_phase:?}");
            assert!(redb_phase.is_empty(), "encrypted datadir leaks: {redb_phase:?}");
            assert!(hashed.is_empty(), "encrypted datadir leaks: {hashed:?}");
        } else {
            // The control: a plain datadir holds every one of them, so the scan would have seen them.
            for (name, _) in &in_plain {
                assert!(redb_phase.iter().any(|f| f.starts_with(name.as_str())), "control: {name} not found");
            }
        }
    }
}

#[test]
fn keys_are_checked_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (datadir, key_file) = init_encrypted(dir.path());
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    {
        let node = start_node(&datadir, Some(&key_file));
        write_marker_chain(&node);
    }
    let err = refused(&datadir, None);
    assert!(err.contains("is encrypted") && err.contains("--key-file"), "{err}");
    let wrong = dir.path().join("wrong.hex");
    std::fs::write(&wrong, "11".repeat(32)).unwrap();
    let err = refused(&datadir, Some(&wrong));
    assert!(err.contains("wrong key for datadir"), "{err}");
    let plain = dir.path().join("plain");
    drop(start_node(&plain, None));
    let err = refused(&plain, Some(&key_file));
    assert!(err.contains("is not encrypted, but a key was given"), "{err}");
    // --encrypt without a key, and the key from the environment.
    let out = keel()
        .args(["node", "--encrypt", "--datadir"])
        .arg(&datadir)
        .env_remove("KEEL_DB_KEY")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the datadir key"), "{out:?}");
    let mut cmd = keel();
    cmd.args(["node", "--encrypt", "--port", &free_port().to_string(), "--datadir"]).arg(&datadir);
    cmd.env("KEEL_DB_KEY", key_text.trim());
    let node = start(cmd);
    assert_eq!(rpc_ok(&node.url, "eth_blockNumber", json!([])), json!("0x2"));
}

/// Flips a byte in every copy of `needle` in `file`; returns how many were found.
fn flip_all(file: &Path, needle: &[u8]) -> usize {
    let mut bytes = std::fs::read(file).unwrap();
    let mut count = 0;
    let mut at = 0;
    while let Some(pos) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let hit = at + pos;
        bytes[hit + needle.len() / 2] ^= 0x20;
        count += 1;
        at = hit + needle.len();
    }
    std::fs::write(file, bytes).unwrap();
    count
}

/// The raw (sealed) values of `table` in a stopped datadir's redb file.
fn raw_values(datadir: &Path, table: keel_store::Table) -> Vec<Vec<u8>> {
    use keel_store::Kv;
    let redb = keel_store::RedbKv::open(&datadir.join(keel_store::DB_FILE)).unwrap();
    let snapshot = redb.snapshot().unwrap();
    let mut out = Vec::new();
    snapshot
        .scan_prefix(table, &[], &mut |_, v| {
            out.push(v.to_vec());
            true
        })
        .unwrap();
    out
}

/// An encrypted datadir holding the marker chain, its node stopped cleanly: everything is in redb, and redb does
/// not re-check its pages on the next open, so what catches damage done to the file is keel's own authentication.
fn stopped_marker_chain(dir: &Path) -> (PathBuf, PathBuf, Chain) {
    let (datadir, key_file) = init_encrypted(dir);
    let node = start_node(&datadir, Some(&key_file));
    let chain = write_marker_chain(&node);
    stop(node);
    (datadir, key_file, chain)
}

#[test]
fn tampered_datadir_is_an_integrity_error_never_altered_data() {
    let dir = tempfile::tempdir().unwrap();
    let (datadir, key_file, chain) = stopped_marker_chain(dir.path());
    let db = datadir.join(keel_store::DB_FILE);

    // 1. The recipient's sealed account altered: its balance reads fail with an integrity error; the node stays
    //    up and serves everything else.
    let sealed = {
        use keel_store::Kv;
        let redb = keel_store::RedbKv::open(&db).unwrap();
        let key = keel_store::DbKey::read_file(&key_file).unwrap();
        let stored =
            keel_store::crypt::stored_key_for(&redb, &key, keel_store::Table::Accounts, &address(RECIPIENT))
                .unwrap();
        redb.snapshot().unwrap().get(keel_store::Table::Accounts, &stored).unwrap().unwrap()
    };
    assert!(flip_all(&db, &sealed) >= 1);
    {
        let node = start_node(&datadir, Some(&key_file));
        let response = rpc(&node.url, "eth_getBalance", json!([RECIPIENT, "latest"]));
        let message = response["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("integrity check failed"), "{response}");
        assert_eq!(rpc_ok(&node.url, "eth_chainId", json!([])), json!("0x7a69"));
        // The storage and code are untouched and still served.
        let slot = rpc_ok(&node.url, "eth_getStorageAt", json!([chain.contract, "0x7", "latest"]));
        assert_eq!(slot, json!(format!("0x{}", hex::encode(STORAGE_MARKER))));
        stop(node);
    }
    let out = keel()
        .args(["db", "verify", "--datadir"])
        .arg(&datadir)
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("table `accounts`: integrity check failed"),
        "{out:?}"
    );

    // 2. The headers altered: the node refuses to start, naming the table.
    for value in raw_values(&datadir, keel_store::Table::Headers) {
        flip_all(&db, &value);
    }
    let err = refused(&datadir, Some(&key_file));
    assert!(err.contains("table `headers`: integrity check failed"), "{err}");

    // 3. Bytes flipped anywhere in the file: never a panic; whatever is still served is the true value.
    let fresh = tempfile::tempdir().unwrap();
    let (datadir, key_file, chain) = stopped_marker_chain(fresh.path());
    let db = datadir.join(keel_store::DB_FILE);
    let len = std::fs::metadata(&db).unwrap().len() as usize;
    let mut bytes = std::fs::read(&db).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..40 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes[(seed as usize) % len] ^= 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    let out = keel()
        .args(["db", "verify", "--datadir"])
        .arg(&datadir)
        .arg("--key-file")
        .arg(&key_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    let mut cmd = keel();
    cmd.args(["node", "--encrypt", "--port", &free_port().to_string(), "--datadir"]).arg(&datadir);
    cmd.arg("--key-file").arg(&key_file);
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    if child.try_wait().unwrap().is_none() {
        // It started: every answer is the true value or an error.
        let url = child_url(&mut child);
        for (method, params, truth) in [
            ("eth_getBalance", json!([RECIPIENT, "latest"]), format!("0x{}", hex::encode(BALANCE_MARKER))),
            (
                "eth_getStorageAt",
                json!([chain.contract, "0x7", "latest"]),
                format!("0x{}", hex::encode(STORAGE_MARKER)),
            ),
            ("eth_getCode", json!([chain.contract, "latest"]), format!("0x{}", hex::encode(runtime_code()))),
        ] {
            let response = rpc(&url, method, params);
            if let Some(result) = response.get("result") {
                assert_eq!(result, &json!(truth), "{method} served altered data");
            }
        }
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(status.code(), Some(101), "{stderr}");
}

fn child_url(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(addr) = line.trim().strip_prefix("Listening on ") {
            return format!("http://{addr}");
        }
    }
    panic!("the node did not report its address");
}

#[test]
fn rekey_survives_kill_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (datadir, key_file) = init_encrypted(dir.path());
    let contract = {
        let node = start_node(&datadir, Some(&key_file));
        let chain = write_marker_chain(&node);
        // Many entries, so the rekey takes many batches.
        rpc_ok(&node.url, "anvil_mine", json!(["0x5dc"]));
        chain.contract
    };
    // A local transaction waiting in the pool (journaled, sealed with the datadir key) must survive the rekey.
    let head = {
        let node = start_manual(&datadir, &key_file);
        cast_ok(&node.url, &["send", "--unlocked", "--from", DEV0, "--async", RECIPIENT, "--value", "1"]);
        assert_eq!(rpc_ok(&node.url, "txpool_status", json!([]))["pending"], json!("0x1"));
        rpc_ok(&node.url, "eth_getBlockByNumber", json!(["latest", false]))["hash"].clone()
    };
    let new_key = dir.path().join("new.hex");
    let rekey = || {
        let mut cmd = keel();
        cmd.args(["db", "rekey", "--batch-size", "4", "--datadir"]).arg(&datadir);
        cmd.arg("--key-file").arg(&key_file).arg("--new-key-file").arg(&new_key);
        cmd
    };
    let mut child =
        rekey().stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(child.try_wait().unwrap().is_none(), "the rekey finished before it could be interrupted");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    for key in [&key_file, &new_key] {
        let err = refused(&datadir, Some(key));
        assert!(err.contains("rekey") && err.contains("was interrupted"), "{err}");
    }
    let out = rekey().output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("now encrypted with key id"), "{out:?}");

    let err = refused(&datadir, Some(&key_file));
    assert!(err.contains("wrong key for datadir"), "{err}");
    let node = start_manual(&datadir, &new_key);
    check_chain(&node, &contract);
    assert_eq!(rpc_ok(&node.url, "eth_getBlockByNumber", json!(["latest", false]))["hash"], head);
    assert_eq!(
        rpc_ok(&node.url, "txpool_status", json!([]))["pending"],
        json!("0x1"),
        "local transaction kept"
    );
    drop(node);
    let out = keel()
        .args(["db", "verify", "--datadir"])
        .arg(&datadir)
        .arg("--key-file")
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
