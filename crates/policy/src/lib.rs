//! `keel-policy`: the sandbox policy ("hypervisor") of a keel chain — which contracts are confined, and how.
//!
//! A [`Policy`] is part of the chain spec (`config.keel.sandbox` in the genesis JSON, or `keel node --policy FILE`
//! in TOML when a chain is created), so the node and the proof client enforce the same one. Each [`Rule`] names a
//! subject — a contract address or a code hash — and may deny operations, restrict the targets of calls (and
//! whether value may be sent), confine SSTORE/TSTORE to storage namespaces (slot prefixes), and cap call depth,
//! gas per call and deployed code size. Rules can be inherited by the contracts a subject creates.
//!
//! This crate holds the data and the decisions ([`Policy::rule_for`], [`Rule::check_call`], …) and the encoding
//! of a violation ([`Violation::revert_data`]). Enforcement — the hooked opcodes in revm's instruction table and the
//! virtualized-call address — lives in `keel-evm`, which asks these questions at the hooked opcodes only.
//!
//! File format: `docs/policy.md`.

mod config;
mod error;

pub use config::{CallsConfig, LimitsConfig, PolicyConfig, RuleConfig, StorageConfig};
pub use error::PolicyError;

use alloy_primitives::{address, keccak256, Address, B256, U256};

/// The address of the virtualized-call entry point (`docs/policy.md`): ASCII "keel" in the low bytes.
pub const VCALL_ADDRESS: Address = address!("0x000000000000000000000000000000006b65656c");

/// The Solidity signature of the revert data of a violation.
pub const POLICY_VIOLATION_SIGNATURE: &str = "PolicyViolation(uint8,address,bytes32)";

/// An operation a rule can deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Call,
    CallCode,
    DelegateCall,
    StaticCall,
    Create,
    Create2,
    SelfDestruct,
    SStore,
    TStore,
    Log0,
    Log1,
    Log2,
    Log3,
    Log4,
}

impl Op {
    pub const ALL: [Op; 14] = [
        Op::Call,
        Op::CallCode,
        Op::DelegateCall,
        Op::StaticCall,
        Op::Create,
        Op::Create2,
        Op::SelfDestruct,
        Op::SStore,
        Op::TStore,
        Op::Log0,
        Op::Log1,
        Op::Log2,
        Op::Log3,
        Op::Log4,
    ];

    /// The name used in policy files (the opcode's mnemonic).
    pub fn name(self) -> &'static str {
        match self {
            Op::Call => "CALL",
            Op::CallCode => "CALLCODE",
            Op::DelegateCall => "DELEGATECALL",
            Op::StaticCall => "STATICCALL",
            Op::Create => "CREATE",
            Op::Create2 => "CREATE2",
            Op::SelfDestruct => "SELFDESTRUCT",
            Op::SStore => "SSTORE",
            Op::TStore => "TSTORE",
            Op::Log0 => "LOG0",
            Op::Log1 => "LOG1",
            Op::Log2 => "LOG2",
            Op::Log3 => "LOG3",
            Op::Log4 => "LOG4",
        }
    }

    /// The EVM opcode byte.
    pub fn opcode(self) -> u8 {
        match self {
            Op::Call => 0xf1,
            Op::CallCode => 0xf2,
            Op::DelegateCall => 0xf4,
            Op::StaticCall => 0xfa,
            Op::Create => 0xf0,
            Op::Create2 => 0xf5,
            Op::SelfDestruct => 0xff,
            Op::SStore => 0x55,
            Op::TStore => 0x5d,
            Op::Log0 => 0xa0,
            Op::Log1 => 0xa1,
            Op::Log2 => 0xa2,
            Op::Log3 => 0xa3,
            Op::Log4 => 0xa4,
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// LOGn for n in 0..=4.
    pub fn log(topics: usize) -> Op {
        [Op::Log0, Op::Log1, Op::Log2, Op::Log3, Op::Log4][topics.min(4)]
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of [`Op`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OpSet(u16);

impl OpSet {
    pub fn insert(&mut self, op: Op) {
        self.0 |= op.bit();
    }

    pub fn contains(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What kind of check a violation failed: the `rule` field of `PolicyViolation(uint8 rule, address offender,
/// bytes32 detail)`. The `detail` word says more, per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ViolationKind {
    /// The operation is denied; detail = the opcode (low byte).
    DeniedOp = 1,
    /// A call to a target not on the allow-list; detail = the target address.
    CallTarget = 2,
    /// A call sending value where the rule forbids it; detail = the target address.
    CallValue = 3,
    /// SSTORE/TSTORE (or, in a virtualized frame, SLOAD) outside the allowed namespaces; detail = the slot.
    StorageNamespace = 4,
    /// A call that would go deeper than the rule allows; detail = the depth it would reach.
    CallDepth = 5,
    /// Deployed code larger than the rule allows; detail = its size.
    CodeSize = 6,
    /// CALLCODE, DELEGATECALL or SELFDESTRUCT inside a virtualized frame; detail = the opcode.
    VirtualizedOp = 7,
    /// A virtualized call to a system the host has not granted; detail = the system address.
    NotGranted = 8,
    /// A malformed call to the virtualized-call address, or grant/revoke from a virtualized frame; detail = the
    /// function selector (high 4 bytes).
    VcallMisuse = 9,
}

/// One violation: what failed, who, and the detail word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub offender: Address,
    pub detail: B256,
}

impl Violation {
    pub fn new(kind: ViolationKind, offender: Address, detail: B256) -> Self {
        Self { kind, offender, detail }
    }

    /// A detail word holding a number.
    pub fn number(n: u64) -> B256 {
        B256::from(U256::from(n))
    }

    /// A detail word holding an address (left-padded, as ABI encodes it).
    pub fn address(a: Address) -> B256 {
        a.into_word()
    }

    /// The 4-byte selector of [`POLICY_VIOLATION_SIGNATURE`].
    pub fn selector() -> [u8; 4] {
        selector(POLICY_VIOLATION_SIGNATURE)
    }

    /// The ABI-encoded revert data: selector ‖ uint8 ‖ address ‖ bytes32.
    pub fn revert_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(100);
        out.extend_from_slice(&Self::selector());
        out.extend_from_slice(&U256::from(self.kind as u8).to_be_bytes::<32>());
        out.extend_from_slice(self.offender.into_word().as_slice());
        out.extend_from_slice(self.detail.as_slice());
        out
    }

    /// Decodes revert data produced by [`Violation::revert_data`].
    pub fn decode(data: &[u8]) -> Option<(u8, Address, B256)> {
        if data.len() != 100 || data[..4] != Self::selector() {
            return None;
        }
        let kind = U256::from_be_slice(&data[4..36]);
        let kind = u8::try_from(kind).ok()?;
        Some((kind, Address::from_word(B256::from_slice(&data[36..68])), B256::from_slice(&data[68..100])))
    }
}

/// The 4-byte ABI selector of a function or error signature.
pub fn selector(signature: &str) -> [u8; 4] {
    let hash = keccak256(signature.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// Whom a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Address(Address),
    CodeHash(B256),
}

/// Storage namespaces: a slot is inside one if it starts with one of the prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub prefixes: Vec<Vec<u8>>,
}

impl Namespaces {
    pub fn contains(&self, slot: &B256) -> bool {
        self.prefixes.iter().any(|p| slot.as_slice().starts_with(p))
    }
}

/// One confinement rule (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its position in the policy (0-based).
    pub index: usize,
    pub name: String,
    pub subject: Subject,
    /// Contracts the subject creates get this rule too.
    pub inherit: bool,
    pub deny: OpSet,
    /// `Some`: calls (CALL, CALLCODE, DELEGATECALL, STATICCALL) only to these addresses.
    pub call_allow: Option<Vec<Address>>,
    /// Whether calls may send value.
    pub call_value: bool,
    /// `Some`: SSTORE and TSTORE only inside these namespaces.
    pub storage: Option<Namespaces>,
    /// Deepest call depth (0 = the transaction's first frame) a call made by the subject may start.
    pub max_depth: Option<u64>,
    /// Most gas a call made by the subject passes on: a call asking for more (Solidity forwards all it has) gets
    /// this much.
    pub max_call_gas: Option<u64>,
    /// Largest code a contract created by the subject may deploy.
    pub max_code_size: Option<usize>,
}

impl Rule {
    /// The check for a call of kind `op` from `offender` (running at `depth`) to `target`, passing `value` (zero
    /// for DELEGATECALL and STATICCALL). The gas cap is not a check: see [`Rule::max_call_gas`].
    pub fn check_call(
        &self,
        op: Op,
        offender: Address,
        depth: u64,
        target: Address,
        value: U256,
    ) -> Option<Violation> {
        if self.deny.contains(op) {
            return Some(Violation::new(
                ViolationKind::DeniedOp,
                offender,
                Violation::number(op.opcode().into()),
            ));
        }
        if let Some(allow) = &self.call_allow {
            if !allow.contains(&target) {
                return Some(Violation::new(ViolationKind::CallTarget, offender, Violation::address(target)));
            }
        }
        if !self.call_value && !value.is_zero() {
            return Some(Violation::new(ViolationKind::CallValue, offender, Violation::address(target)));
        }
        if let Some(max) = self.max_depth {
            if depth + 1 > max {
                return Some(Violation::new(
                    ViolationKind::CallDepth,
                    offender,
                    Violation::number(depth + 1),
                ));
            }
        }
        None
    }

    /// The check for SSTORE / TSTORE (`op`) of `slot`.
    pub fn check_store(&self, op: Op, offender: Address, slot: B256) -> Option<Violation> {
        if self.deny.contains(op) {
            return Some(Violation::new(
                ViolationKind::DeniedOp,
                offender,
                Violation::number(op.opcode().into()),
            ));
        }
        match &self.storage {
            Some(ns) if !ns.contains(&slot) => {
                Some(Violation::new(ViolationKind::StorageNamespace, offender, slot))
            }
            _ => None,
        }
    }

    /// The check for an operation with nothing more to look at (CREATE, CREATE2, SELFDESTRUCT, LOGn).
    pub fn check_op(&self, op: Op, offender: Address) -> Option<Violation> {
        self.deny
            .contains(op)
            .then(|| Violation::new(ViolationKind::DeniedOp, offender, Violation::number(op.opcode().into())))
    }

    /// The check for code of `size` bytes deployed by a contract created by the subject.
    pub fn check_code_size(&self, offender: Address, size: usize) -> Option<Violation> {
        match self.max_code_size {
            Some(max) if size > max => {
                Some(Violation::new(ViolationKind::CodeSize, offender, Violation::number(size as u64)))
            }
            _ => None,
        }
    }
}

fn address_bit(address: Address) -> u64 {
    1 << (address[19] & 63)
}

/// A chain's sandbox policy (validated; see [`PolicyConfig`] for the file format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    by_address: alloy_primitives::map::AddressHashMap<usize>,
    by_code_hash: alloy_primitives::map::B256HashMap<usize>,
    /// Whether any rule is inherited (asked at every hooked opcode, so kept rather than computed).
    inherits: bool,
    /// Bit `a[19] % 64` set for every subject address `a`: most lookups of contracts without a rule end here,
    /// without hashing.
    address_filter: u64,
    config: PolicyConfig,
}

impl Policy {
    /// The empty policy: nothing confined.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// Whether any rule is inherited by created contracts (so the inheritance record in state must be consulted).
    pub fn has_inheritance(&self) -> bool {
        self.inherits
    }

    /// The rule for a contract at `address` running code with `code_hash`: an address rule first, then a
    /// code-hash rule.
    pub fn rule_for(&self, address: Address, code_hash: Option<B256>) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        if self.address_filter & address_bit(address) != 0 {
            if let Some(&i) = self.by_address.get(&address) {
                return self.rules.get(i);
            }
        }
        if self.by_code_hash.is_empty() {
            return None;
        }
        code_hash.and_then(|h| self.by_code_hash.get(&h)).and_then(|&i| self.rules.get(i))
    }

    /// The rule naming `address` itself as its subject, if any.
    pub fn rule_for_address(&self, address: Address) -> Option<&Rule> {
        self.by_address.get(&address).and_then(|&i| self.rules.get(i))
    }

    /// The configuration this policy was built from (what `keel_getPolicy` returns and the hash covers).
    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// keccak256 of the policy's canonical JSON (logged at start, returned by `keel_getPolicy`).
    pub fn hash(&self) -> B256 {
        keccak256(serde_json::to_vec(&self.config).unwrap_or_default())
    }
}

/// Where the state records which rule a created contract inherited: storage of this account, slot
/// `keccak256(address)`, value `rule index + 1`. A plain account (no code), written only by the node's own hooks.
pub const REGISTRY_ADDRESS: Address = address!("0x000000000000000000000000000000006b65656d");

/// The registry slot recording the inherited rule of `address`.
pub fn inherited_slot(address: Address) -> U256 {
    U256::from_be_bytes(keccak256(address.into_word()).0)
}

/// The registry slot at which the grant of `system` by `host` starts: it holds the number of granted namespaces,
/// the next slots hold the namespaces themselves (left-aligned in the word).
pub fn grant_slot(host: Address, system: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(host.into_word().as_slice());
    preimage[32..].copy_from_slice(system.into_word().as_slice());
    U256::from_be_bytes(keccak256(preimage).0)
}
