//! Policy files: what parses, what is refused (naming the rule and field), and the rule checks.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{address, Address, B256, U256};
use keel_policy::{Op, Policy, Violation, ViolationKind};

const FULL: &str = r#"
[[rule]]
name = "plugin"
address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
inherit = true
deny = ["SELFDESTRUCT", "delegatecall", "LOG0"]
[rule.calls]
allow = ["0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"]
value = false
[rule.storage]
namespaces = ["0x7461626c"]
[rule.limits]
max_depth = 4
max_call_gas = 100000
max_code_size = 2048

[[rule]]
code_hash = "0x1111111111111111111111111111111111111111111111111111111111111111"
"#;

const PLUGIN: Address = address!("0x5FbDB2315678afecb367f032d93F642f64180aa3");
const ALLOWED: Address = address!("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");

#[test]
fn a_full_policy_parses_and_decides() {
    let policy = Policy::from_toml("p.toml", FULL).unwrap();
    assert_eq!(policy.rules().len(), 2);
    let rule = policy.rule_for(PLUGIN, None).unwrap();
    assert_eq!(rule.name, "plugin");
    assert!(rule.inherit && rule.deny.contains(Op::DelegateCall) && !rule.deny.contains(Op::Call));
    assert!(policy.rule_for(Address::ZERO, Some(B256::repeat_byte(0x11))).is_some());
    assert!(policy.rule_for(Address::ZERO, Some(B256::repeat_byte(0x12))).is_none());

    let call = |target, _gas: u64, value: u64, depth| {
        rule.check_call(Op::Call, PLUGIN, depth, target, U256::from(value)).map(|v| v.kind)
    };
    assert_eq!(call(ALLOWED, 50_000, 0, 0), None);
    assert_eq!(call(Address::ZERO, 50_000, 0, 0), Some(ViolationKind::CallTarget));
    assert_eq!(call(ALLOWED, 50_000, 1, 0), Some(ViolationKind::CallValue));
    assert_eq!(call(ALLOWED, 200_000, 0, 0), None, "the gas cap clamps, it does not refuse");
    assert_eq!(rule.max_call_gas, Some(100_000));
    assert_eq!(call(ALLOWED, 50_000, 0, 4), Some(ViolationKind::CallDepth));
    let mut slot = B256::ZERO;
    slot[..4].copy_from_slice(b"tabl");
    assert_eq!(rule.check_store(Op::SStore, PLUGIN, slot), None);
    assert_eq!(
        rule.check_store(Op::SStore, PLUGIN, B256::ZERO).map(|v| v.kind),
        Some(ViolationKind::StorageNamespace)
    );
    assert_eq!(rule.check_op(Op::Log0, PLUGIN).map(|v| v.kind), Some(ViolationKind::DeniedOp));
    assert_eq!(rule.check_op(Op::Log1, PLUGIN), None);
    assert_eq!(rule.check_code_size(PLUGIN, 4096).map(|v| v.kind), Some(ViolationKind::CodeSize));

    // The hash is stable and the JSON form gives the same policy.
    let json = serde_json::to_value(policy.config()).unwrap();
    let again = Policy::from_json("genesis", &json).unwrap();
    assert_eq!(again.hash(), policy.hash());
    assert_eq!(again, policy);
}

#[test]
fn violation_revert_data_is_abi_encoded() {
    let v = Violation::new(ViolationKind::CallTarget, PLUGIN, Violation::address(ALLOWED));
    let data = v.revert_data();
    assert_eq!(data.len(), 100);
    // keccak256("PolicyViolation(uint8,address,bytes32)")[..4]
    assert_eq!(&data[..4], &alloy_primitives::keccak256("PolicyViolation(uint8,address,bytes32)")[..4]);
    assert_eq!(Violation::decode(&data), Some((2, PLUGIN, ALLOWED.into_word())));
}

fn refused(text: &str) -> String {
    Policy::from_toml("bad.toml", text).unwrap_err().to_string()
}

#[test]
fn malformed_policies_are_refused_naming_rule_and_field() {
    let err = refused("[[rule]]\nname = \"x\"\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\ndeny = [\"CALLX\"]\n");
    assert!(err.contains("rule 0 (x), field `deny`: unknown operation \"CALLX\""), "{err}");
    let err = refused("[[rule]]\naddress = \"0x12\"\n");
    assert!(err.contains("field `rule[0].address`"), "{err}");
    let err = refused("[[rule]]\nname = \"y\"\n");
    assert!(err.contains("rule 0 (y), field `address`: a rule needs a subject"), "{err}");
    let err = refused("[[rule]]\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\ncolour = 1\n");
    assert!(err.contains("field `rule[0].colour`") && err.contains("unknown field `colour`"), "{err}");
    let err = refused(
        "[[rule]]\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n[[rule]]\nname = \"twice\"\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n",
    );
    assert!(err.contains("rule 1 (twice), field `address`: rule 0 already names this subject"), "{err}");
    let err = refused("[[rule]]\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n[rule.storage]\nnamespaces = [\"0x\"]\n");
    assert!(err.contains("field `storage.namespaces`"), "{err}");
    let err = refused(
        "[[rule]]\naddress = \"0x5FbDB2315678afecb367f032d93F642f64180aa3\"\n[rule.limits]\nmax_depth = -1\n",
    );
    assert!(err.contains("field `rule[0].limits.max_depth`"), "{err}");
    let err = refused("this is not toml");
    assert!(err.starts_with("policy bad.toml"), "{err}");
}

#[test]
fn the_empty_policy_confines_nothing() {
    let policy = Policy::from_toml("empty.toml", "").unwrap();
    assert!(policy.is_empty());
    assert!(policy.rule_for(PLUGIN, Some(B256::ZERO)).is_none());
}
