//! The sandbox policy end to end: `keel node --policy FILE`, real Solidity contracts (contracts/Plugin.sol,
//! Target.sol, World.sol, GameSystem.sol, compiled by the pinned solcjs), each rule's violation decoded from
//! `eth_call` errors, `eth_estimateGas` and traces, and mined transactions failing with the same data.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloy_primitives::{address, hex, Address, B256, U256};
use common::{bytecode, cast_ok, free_port, rpc, rpc_ok, start, tool, Running};
use keel_evm::keel_policy::{Violation, VCALL_ADDRESS};
use serde_json::{json, Value};
use std::process::Command;

const DEV0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// What the deployer's nonces will create, in order.
struct Layout {
    target: Address,
    open: Address,
    deny: Address,
    calls: Address,
    limits: Address,
    parent: Address,
    world: Address,
    system: Address,
    other_system: Address,
}

impl Layout {
    fn new() -> Self {
        let at = |n| DEV0.create(n);
        Self {
            target: at(0),
            open: at(1),
            deny: at(2),
            calls: at(3),
            limits: at(4),
            parent: at(5),
            world: at(6),
            system: at(7),
            other_system: at(8),
        }
    }

    fn policy(&self) -> String {
        format!(
            r#"
[[rule]]
name = "denied operations"
address = "{deny}"
deny = ["SELFDESTRUCT", "DELEGATECALL", "LOG0", "CREATE2", "TSTORE"]
[rule.storage]
namespaces = ["0x7461626c"]

[[rule]]
name = "call allow-list"
address = "{calls}"
[rule.calls]
allow = ["{target}"]
value = false

[[rule]]
name = "limits"
address = "{limits}"
[rule.calls]
allow = ["{target}", "{limits}"]
[rule.limits]
max_depth = 3
max_call_gas = 100000
max_code_size = 100

[[rule]]
name = "inherited"
address = "{parent}"
inherit = true
deny = ["SSTORE"]

[[rule]]
name = "game system"
address = "{system}"
deny = ["LOG1"]
[rule.calls]
allow = ["{vcall}", "{target}"]
"#,
            deny = self.deny,
            calls = self.calls,
            target = self.target,
            limits = self.limits,
            parent = self.parent,
            system = self.system,
            vcall = VCALL_ADDRESS,
        )
    }
}

/// A node running the test layout's policy (the directory holds the policy file).
fn start_with_layout_policy() -> (tempfile::TempDir, Layout, Running) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new();
    let policy_file = dir.path().join("policy.toml");
    std::fs::write(&policy_file, layout.policy()).unwrap();
    let node = start_node(&policy_file);
    (dir, layout, node)
}

fn start_node(policy: &std::path::Path) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--ephemeral", "--port", &free_port().to_string(), "--policy"]).arg(policy);
    start(cmd)
}

fn calldata(sig: &str, args: &[&str]) -> String {
    let mut full = vec!["calldata", sig];
    full.extend_from_slice(args);
    let out = Command::new(tool("cast")).args(&full).output().unwrap();
    assert!(out.status.success(), "cast calldata {sig}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn deploy(url: &str, name: &str) -> Address {
    let receipt: Value = serde_json::from_str(&cast_ok(
        url,
        &["send", "--private-key", KEY0, "--json", "--create", &bytecode(name)],
    ))
    .unwrap();
    assert_eq!(receipt["status"], json!("0x1"), "deploying {name}: {receipt}");
    receipt["contractAddress"].as_str().unwrap().parse().unwrap()
}

fn call_request(to: Address, data: &str, value: u64) -> Value {
    json!({"from": DEV0, "to": to, "data": data, "value": format!("0x{value:x}")})
}

/// eth_call that must succeed; returns the result bytes.
fn call_ok(url: &str, to: Address, data: &str, value: u64) -> String {
    rpc_ok(url, "eth_call", json!([call_request(to, data, value), "latest"])).as_str().unwrap().to_string()
}

/// eth_call that must revert with a PolicyViolation; returns (rule, offender, detail), after checking that
/// eth_estimateGas reports the same revert data.
fn violation(url: &str, to: Address, data: &str, value: u64) -> (u8, Address, B256) {
    let response = rpc(url, "eth_call", json!([call_request(to, data, value), "latest"]));
    let error = &response["error"];
    assert_eq!(error["code"], json!(3), "expected a revert: {response}");
    assert!(error["message"].as_str().unwrap().starts_with("execution reverted"), "{response}");
    let revert = hex::decode(error["data"].as_str().unwrap()).unwrap();
    let decoded = Violation::decode(&revert).unwrap_or_else(|| panic!("not a PolicyViolation: {response}"));
    let estimate = rpc(url, "eth_estimateGas", json!([call_request(to, data, value)]));
    assert_eq!(estimate["error"]["data"], error["data"], "eth_estimateGas: {estimate}");
    decoded
}

fn word(n: u64) -> B256 {
    B256::from(U256::from(n))
}

fn slot(prefix: &[u8]) -> String {
    let mut s = [0u8; 32];
    s[..prefix.len()].copy_from_slice(prefix);
    format!("0x{}", hex::encode(s))
}

#[test]
fn every_rule_is_enforced_on_real_contracts() {
    let (_dir, layout, node) = start_with_layout_policy();
    let url = node.url.as_str();

    let policy = rpc_ok(url, "keel_getPolicy", json!([]));
    assert_eq!(policy["rules"], json!(5), "{policy}");

    for (name, expected) in [
        ("Target", layout.target),
        ("Plugin", layout.open),
        ("Plugin", layout.deny),
        ("Plugin", layout.calls),
        ("Plugin", layout.limits),
        ("Plugin", layout.parent),
        ("World", layout.world),
        ("GameSystem", layout.system),
        ("GameSystem", layout.other_system),
    ] {
        assert_eq!(deploy(url, name), expected, "{name}");
    }
    let target = layout.target.to_string();
    let ping = calldata("ping()", &[]);
    let in_ns = slot(b"tabl");
    let outside = slot(b"\x00");

    // A contract without a rule may do everything.
    let open = layout.open;
    call_ok(url, open, &calldata("callOut(address,bytes)", &[&target, &ping]), 5);
    call_ok(url, open, &calldata("delegate(address,bytes)", &[&target, &calldata("poke()", &[])]), 0);
    call_ok(url, open, &calldata("store(bytes32,uint256)", &[&outside, "1"]), 0);
    call_ok(url, open, &calldata("tstoreAt(bytes32,uint256)", &[&outside, "1"]), 0);
    call_ok(url, open, &calldata("log0()", &[]), 0);
    call_ok(url, open, &calldata("destroy(address)", &[&target]), 0);
    call_ok(url, open, &calldata("recurse(uint256)", &["6"]), 0);
    call_ok(url, open, &calldata("deploySized(uint256)", &["500"]), 0);

    // Denied operations: the detail is the opcode.
    let deny = layout.deny;
    for (data, opcode) in [
        (calldata("destroy(address)", &[&target]), 0xff),
        (calldata("delegate(address,bytes)", &[&target, "0x"]), 0xf4),
        (calldata("log0()", &[]), 0xa0),
        (calldata("tstoreAt(bytes32,uint256)", &[&in_ns, "1"]), 0x5d),
        (calldata("deploy2(bytes,bytes32)", &["0x00", &outside]), 0xf5),
    ] {
        assert_eq!(violation(url, deny, &data, 0), (1, deny, word(opcode)), "{data}");
    }
    call_ok(url, deny, &calldata("ping(uint256)", &["1"]), 0); // LOG2 is not denied
                                                               // Storage namespaces: inside is fine, outside is a violation naming the slot.
    call_ok(url, deny, &calldata("store(bytes32,uint256)", &[&in_ns, "1"]), 0);
    let (rule, who, detail) = violation(url, deny, &calldata("store(bytes32,uint256)", &[&outside, "1"]), 0);
    assert_eq!((rule, who, detail), (4, deny, outside.parse::<B256>().unwrap()));

    // The call allow-list, with and without value.
    let calls = layout.calls;
    call_ok(url, calls, &calldata("callOut(address,bytes)", &[&target, &ping]), 0);
    let (rule, who, detail) =
        violation(url, calls, &calldata("callOut(address,bytes)", &[&target, &ping]), 7);
    assert_eq!((rule, who, detail), (3, calls, layout.target.into_word()));
    let stranger = layout.open.to_string();
    let (rule, who, detail) =
        violation(url, calls, &calldata("callOut(address,bytes)", &[&stranger, &ping]), 0);
    assert_eq!((rule, who, detail), (2, calls, layout.open.into_word()));

    // Depth, gas per call and deployed code size.
    let limits = layout.limits;
    call_ok(url, limits, &calldata("recurse(uint256)", &["2"]), 0);
    let (rule, who, detail) = violation(url, limits, &calldata("recurse(uint256)", &["5"]), 0);
    assert_eq!((rule, who, detail), (5, limits, word(4)));
    // The gas cap clamps: a call asking for 200000 gets 100000 (seen by the call tracer).
    let asked = calldata("callWithGas(address,uint256)", &[&target, "200000"]);
    call_ok(url, limits, &asked, 0);
    let traced = rpc_ok(
        url,
        "debug_traceCall",
        json!([call_request(limits, &asked, 0), "latest", {"tracer": "callTracer"}]),
    );
    let inner_gas =
        u64::from_str_radix(traced["calls"][0]["gas"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
    assert!(inner_gas <= 100_000 && inner_gas > 90_000, "{traced}");
    call_ok(url, limits, &calldata("deploySized(uint256)", &["100"]), 0);
    let (rule, who, detail) = violation(url, limits, &calldata("deploySized(uint256)", &["101"]), 0);
    assert_eq!((rule, who, detail), (6, limits, word(101)));

    // Inheritance: what the parent creates carries its rule (SSTORE denied); what an open contract creates does not.
    let plugin_code = bytecode("Plugin");
    let child_of = |parent: Address| -> Address {
        let receipt: Value = serde_json::from_str(&cast_ok(
            url,
            &["send", "--private-key", KEY0, "--json", &parent.to_string(), "deploy(bytes)", &plugin_code],
        ))
        .unwrap();
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
        // A contract's nonce starts at 1: its first creation is at nonce 1.
        parent.create(1)
    };
    let inherited = child_of(layout.parent);
    let free = child_of(layout.open);
    assert!(!cast_ok(url, &["code", &inherited.to_string()]).trim_end_matches('0').is_empty());
    let store = calldata("store(bytes32,uint256)", &[&outside, "1"]);
    call_ok(url, free, &store, 0);
    assert_eq!(violation(url, inherited, &store, 0), (1, inherited, word(0x55)));

    // A mined transaction that violates fails, and its trace carries the same revert data.
    // (cast would refuse to send what its gas estimate says reverts: give the gas limit.)
    let hash = cast_ok(
        url,
        &[
            "send",
            "--private-key",
            KEY0,
            "--gas-limit",
            "300000",
            "--async",
            &deny.to_string(),
            "destroy(address)",
            &target,
        ],
    );
    let receipt = rpc_ok(url, "eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], json!("0x0"), "{receipt}");
    let trace = rpc_ok(url, "debug_traceTransaction", json!([hash, {"tracer": "callTracer"}]));
    let output = hex::decode(trace["output"].as_str().unwrap()).unwrap();
    assert_eq!(Violation::decode(&output), Some((1, deny, word(0xff))), "{trace}");
    // cast decodes it with the documented signature.
    let decoded = Command::new(tool("cast"))
        .args([
            "decode-error",
            "--sig",
            "PolicyViolation(uint8,address,bytes32)",
            trace["output"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&decoded.stdout);
    assert!(
        text.contains(&format!("{deny}")) || text.to_lowercase().contains(&format!("{deny}").to_lowercase()),
        "{text}"
    );
}

#[test]
fn virtualized_calls_run_systems_in_the_hosts_storage_under_their_grants() {
    let (_dir, layout, node) = start_with_layout_policy();
    let url = node.url.as_str();
    for name in
        ["Target", "Plugin", "Plugin", "Plugin", "Plugin", "Plugin", "World", "GameSystem", "GameSystem"]
    {
        deploy(url, name);
    }
    let (world, system, other) = (layout.world, layout.system, layout.other_system);
    let send = |data: &str| {
        let receipt: Value = serde_json::from_str(&cast_ok(
            url,
            &["send", "--private-key", KEY0, "--json", &world.to_string(), data],
        ))
        .unwrap();
        assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    };
    let run = |sys: Address, inner: &str| calldata("run(address,bytes)", &[&sys.to_string(), inner]);
    let in_ns = slot(b"tabl");
    let outside = slot(b"\x00");
    let write_in = calldata("write(bytes32,uint256)", &[&in_ns, "7"]);

    // Not granted yet.
    assert_eq!(violation(url, world, &run(system, &write_in), 0), (8, world, system.into_word()));
    // Grant, then the system writes the World's storage inside its namespace.
    send(&calldata("grant(address,bytes4[])", &[&system.to_string(), "[0x7461626c]"]));
    let sig_run = |sys: Address, inner: &str| {
        cast_ok(
            url,
            &[
                "send",
                "--private-key",
                KEY0,
                "--json",
                &world.to_string(),
                "run(address,bytes)",
                &sys.to_string(),
                inner,
            ],
        )
    };
    let receipt: Value = serde_json::from_str(&sig_run(system, &write_in)).unwrap();
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    let read = calldata("read(bytes32)", &[&in_ns]);
    assert_eq!(call_ok(url, world, &read, 0), format!("0x{}", hex::encode(word(7))));
    // The system's own storage is untouched: the write went to the World.
    assert_eq!(
        call_ok(url, system, &calldata("read(bytes32)", &[&in_ns]), 0),
        format!("0x{}", hex::encode(word(0)))
    );
    // Outside the namespace: SSTORE and SLOAD both refused, naming the system and the slot.
    let outside_word: B256 = outside.parse().unwrap();
    let write_out = calldata("write(bytes32,uint256)", &[&outside, "1"]);
    assert_eq!(violation(url, world, &run(system, &write_out), 0), (4, system, outside_word));
    let read_out = calldata("read(bytes32)", &[&outside]);
    assert_eq!(violation(url, world, &run(system, &read_out), 0), (4, system, outside_word));
    let tread_out = calldata("tread(bytes32)", &[&outside]);
    assert_eq!(violation(url, world, &run(system, &tread_out), 0), (4, system, outside_word));
    call_ok(url, world, &run(system, &calldata("tread(bytes32)", &[&in_ns])), 0);
    // DELEGATECALL inside a virtualized frame, and granting itself more: refused.
    let delegate = calldata("delegate(address)", &[&layout.target.to_string()]);
    assert_eq!(violation(url, world, &run(system, &delegate), 0), (7, system, word(0xf4)));
    let grant_self = calldata("grantSelf(bytes4)", &["0x00000000"]);
    let (rule, who, _) = violation(url, world, &run(system, &grant_self), 0);
    assert_eq!((rule, who), (9, system));
    // The system's own rule holds inside the World: its calls only to the vcall address and Target.
    let call_out = calldata("callOut(address)", &[&layout.open.to_string()]);
    assert_eq!(violation(url, world, &run(system, &call_out), 0), (2, system, layout.open.into_word()));
    // The system sees the World's caller appended to its calldata.
    let sender = call_ok(url, world, &run(system, &calldata("msgSender()", &[])), 0);
    assert!(sender.to_lowercase().contains(&hex::encode(DEV0)), "{sender}");

    // Nested: the system runs another system of the same World (which needs its own grant).
    let nested_write = calldata("write(bytes32,uint256)", &[&slot(b"tabm"), "9"]);
    let nested = calldata("nested(address,bytes)", &[&other.to_string(), &nested_write]);
    assert_eq!(violation(url, world, &run(system, &nested), 0), (8, system, other.into_word()));
    send(&calldata("grant(address,bytes4[])", &[&other.to_string(), "[0x7461626d]"]));
    let receipt: Value = serde_json::from_str(&sig_run(system, &nested)).unwrap();
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    assert_eq!(
        call_ok(url, world, &calldata("read(bytes32)", &[&slot(b"tabm")]), 0),
        format!("0x{}", hex::encode(word(9)))
    );

    // Revoke: the system can no longer run.
    send(&calldata("revoke(address)", &[&system.to_string()]));
    assert_eq!(violation(url, world, &run(system, &write_in), 0), (8, world, system.into_word()));

    // The entry point refuses what is not a CALL from a contract: a direct vcall, or a STATICCALL.
    let direct = calldata("vcall(address,bytes)", &[&system.to_string(), &write_in]);
    let (rule, who, _) = violation(url, VCALL_ADDRESS, &direct, 0);
    assert_eq!((rule, who), (9, DEV0));
}

#[test]
fn a_malformed_policy_is_refused_at_start_naming_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[[rule]]\nname = \"plugin\"\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\ndeny = [\"JUMP\"]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["node", "--ephemeral", "--port", &free_port().to_string(), "--policy"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rule 0 (plugin), field `deny`: unknown operation \"JUMP\""), "{stderr}");
}

#[test]
fn a_code_hash_rule_confines_every_contract_running_that_code() {
    // The runtime code of Target, learnt from a node without a policy.
    let code_hash = {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
        cmd.args(["node", "--ephemeral", "--port", &free_port().to_string()]);
        let node = start(cmd);
        let target = deploy(&node.url, "Target");
        let code = rpc_ok(&node.url, "eth_getCode", json!([target, "latest"]));
        alloy_primitives::keccak256(hex::decode(code.as_str().unwrap()).unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!("[[rule]]\nname = \"by code\"\ncode_hash = \"{code_hash}\"\ndeny = [\"SSTORE\"]\n"),
    )
    .unwrap();
    let node = start_node(&policy);
    let (first, second) = (deploy(&node.url, "Target"), deploy(&node.url, "Target"));
    let ping = calldata("ping()", &[]);
    for target in [first, second] {
        assert_eq!(violation(&node.url, target, &ping, 0), (1, target, word(0x55)));
    }
    // Other code is not confined.
    let plugin = deploy(&node.url, "Plugin");
    call_ok(&node.url, plugin, &calldata("store(bytes32,uint256)", &[&slot(b"x"), "1"]), 0);
}
