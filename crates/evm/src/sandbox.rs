//! Enforcement of the chain's sandbox policy (`keel-policy`) inside revm, at opcode level.
//!
//! Only the opcodes a rule can restrict are replaced in the EVM's instruction table — CALL, CALLCODE,
//! DELEGATECALL, STATICCALL, CREATE, CREATE2, SELFDESTRUCT, SSTORE, TSTORE, LOG0–LOG4, plus SLOAD and RETURN
//! (for virtualized frames and deployed-code caps) — so every other opcode runs revm's own code, and a chain
//! without a policy does not install the hooks at all. A hook looks up the rule of the running frame
//! ([`Sandbox`], kept in the revm context's `chain` slot), and either reverts the frame with
//! `PolicyViolation(uint8 rule, address offender, bytes32 detail)` (as REVERT does: state rolled back, unused gas
//! returned) or hands over to revm's instruction.
//!
//! The same executor runs in the node, in `eth_call` / `eth_estimateGas` / traces, and in the proof client, so all
//! of them enforce the same rules.

use alloy_primitives::{Address, B256, U256};
use keel_policy::{
    grant_slot, inherited_slot, Op, Policy, Rule, Violation, ViolationKind, REGISTRY_ADDRESS, VCALL_ADDRESS,
};
use revm::{
    bytecode::opcode,
    context::Cfg,
    context_interface::ContextTr,
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{
        instructions::{contract, control, host as ops},
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, LoopControl, MemoryTr},
        CallInput, CallInputs, CallScheme, CallValue, FrameInput, Gas, Host, Instruction, InstructionContext,
        InstructionExecResult, InstructionResult, InstructionTable, Interpreter, InterpreterAction,
        InterpreterResult,
    },
    primitives::{hardfork::SpecId, AddressSet},
};
use std::sync::Arc;

type Ictx<'a, H> = InstructionContext<'a, H, EthInterpreter>;

/// Most namespaces one grant holds.
pub const MAX_NAMESPACES: usize = 16;

/// `vcall(address system, bytes data)`: run `system`'s code in the caller's storage under the system's rule.
pub fn vcall_selector() -> [u8; 4] {
    selector("vcall(address,bytes)")
}

/// `grant(address system, bytes4[] namespaces)`: let `system` use these storage namespaces in vcalls from the
/// caller (replaces an earlier grant).
pub fn grant_selector() -> [u8; 4] {
    selector("grant(address,bytes4[])")
}

/// `revoke(address system)`: withdraw the caller's grant to `system`.
pub fn revoke_selector() -> [u8; 4] {
    selector("revoke(address)")
}

use keel_policy::selector;

/// The policy an EVM enforces, and what it has learnt during the block (inherited rules read from state).
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    policy: Option<Arc<Policy>>,
    /// address → inherited rule index, as read from (or written to) the registry in state.
    inherited: alloy_primitives::map::AddressHashMap<Option<usize>>,
    /// The last two frames looked up — (subject, code hash) and its rule: hooked opcodes come in runs from one
    /// frame, or alternate between a caller and its callee.
    last: [Option<FrameKey>; 2],
    /// Which of `last` to replace next.
    next: usize,
    /// Contracts being created by a frame whose rule caps deployed code: created address → (rule, creator).
    code_caps: alloy_primitives::map::AddressHashMap<(usize, Address)>,
}

/// A looked-up frame: (subject, code hash) and its rule.
type FrameKey = ((Address, Option<B256>), Option<usize>);

impl Sandbox {
    pub fn new(policy: Option<Arc<Policy>>) -> Self {
        Self {
            policy,
            inherited: Default::default(),
            last: [None, None],
            next: 0,
            code_caps: Default::default(),
        }
    }

    pub fn policy(&self) -> Option<&Arc<Policy>> {
        self.policy.as_ref()
    }
}

/// Replaces the hooked opcodes of `table` (static gas is left as it is).
pub fn install<H>(table: &mut InstructionTable<EthInterpreter, H>)
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    table[opcode::CALL as usize] = Instruction::new(hook_call::<{ opcode::CALL }, H>);
    table[opcode::CALLCODE as usize] = Instruction::new(hook_call::<{ opcode::CALLCODE }, H>);
    table[opcode::DELEGATECALL as usize] = Instruction::new(hook_call::<{ opcode::DELEGATECALL }, H>);
    table[opcode::STATICCALL as usize] = Instruction::new(hook_call::<{ opcode::STATICCALL }, H>);
    table[opcode::CREATE as usize] = Instruction::new(hook_create::<false, H>);
    table[opcode::CREATE2 as usize] = Instruction::new(hook_create::<true, H>);
    table[opcode::SELFDESTRUCT as usize] = Instruction::new(hook_selfdestruct::<H>);
    table[opcode::SSTORE as usize] = Instruction::new(hook_store::<false, H>);
    table[opcode::TSTORE as usize] = Instruction::new(hook_store::<true, H>);
    table[opcode::LOG0 as usize] = Instruction::new(hook_log::<0, H>);
    table[opcode::LOG1 as usize] = Instruction::new(hook_log::<1, H>);
    table[opcode::LOG2 as usize] = Instruction::new(hook_log::<2, H>);
    table[opcode::LOG3 as usize] = Instruction::new(hook_log::<3, H>);
    table[opcode::LOG4 as usize] = Instruction::new(hook_log::<4, H>);
    table[opcode::RETURN as usize] = Instruction::new(hook_return::<H>);
    table[opcode::SLOAD as usize] = Instruction::new(hook_load::<false, H>);
    table[opcode::TLOAD as usize] = Instruction::new(hook_load::<true, H>);
}

/// The `n`-th word from the top of the stack (0 = top), without popping it.
fn peek(it: &Interpreter<EthInterpreter>, n: usize) -> Option<U256> {
    let data = it.stack.data();
    data.len().checked_sub(n + 1).map(|i| data[i])
}

fn word_address(word: U256) -> Address {
    Address::from_word(B256::from(word.to_be_bytes::<32>()))
}

/// Ends the frame as REVERT would, with the violation as its revert data.
fn revert(it: &mut Interpreter<EthInterpreter>, violation: Violation) -> InstructionExecResult {
    let gas = it.gas;
    it.bytecode.set_action(InterpreterAction::new_return(
        InstructionResult::Revert,
        violation.revert_data().into(),
        gas,
    ));
    Err(InstructionResult::Revert)
}

/// The rule index governing the running frame, if any: the frame's own address or code hash, else a rule its
/// address inherited from its creator (recorded in state).
fn frame_rule<H>(host: &mut H, it: &Interpreter<EthInterpreter>) -> Option<usize>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let target = subject(it);
    let key = (target, it.bytecode.hash());
    let (direct, inherits) = {
        let sandbox = host.chain();
        let policy = sandbox.policy.as_deref()?;
        if policy.is_empty() {
            return None;
        }
        for (last, index) in sandbox.last.iter().flatten() {
            if *last == key {
                return *index;
            }
        }
        (policy.rule_for(key.0, key.1).map(|r| r.index), policy.has_inheritance())
    };
    let index = match direct {
        Some(index) => Some(index),
        None if inherits => inherited_rule(host, target),
        None => None,
    };
    let sandbox = host.chain_mut();
    sandbox.last[sandbox.next] = Some((key, index));
    sandbox.next ^= 1;
    index
}

/// The rule `address` inherited (read from the registry account once per block, then remembered).
fn inherited_rule<H>(host: &mut H, address: Address) -> Option<usize>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let rules = host.chain().policy.as_deref().map(|p| p.rules().len())?;
    if let Some(known) = host.chain().inherited.get(&address) {
        return *known;
    }
    let found = read_registry(host, inherited_slot(address))
        .and_then(|v| usize::try_from(v).ok())
        .and_then(|v| v.checked_sub(1))
        .filter(|i| *i < rules);
    host.chain_mut().inherited.insert(address, found);
    found
}

/// A word of the registry account's storage (loading the account into the journal first).
fn read_registry<H: Host + ?Sized>(host: &mut H, slot: U256) -> Option<U256> {
    host.load_account_info_skip_cold_load(REGISTRY_ADDRESS, false, false).ok()?;
    host.sload(REGISTRY_ADDRESS, slot).map(|s| s.data)
}

/// Runs `check` against the frame's rule; `Some` is the violation to revert with.
fn check<H>(
    host: &mut H,
    it: &Interpreter<EthInterpreter>,
    check: impl FnOnce(&Rule, Address) -> Option<Violation>,
) -> Option<Violation>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let index = frame_rule(host, it)?;
    let rule = host.chain().policy.as_deref()?.rule(index)?;
    check(rule, subject(it))
}

/// Whether the frame is a virtualized call (a system's code in its host's storage, started through
/// [`VCALL_ADDRESS`]): its caller is the virtualized-call address.
fn virtualized(it: &Interpreter<EthInterpreter>) -> bool {
    it.input.caller_address() == VCALL_ADDRESS
}

/// Whose rule governs the frame: the system in a virtualized frame, else the contract whose storage it runs in.
fn subject(it: &Interpreter<EthInterpreter>) -> Address {
    if virtualized(it) {
        it.input.bytecode_address.unwrap_or_else(|| it.input.target_address())
    } else {
        it.input.target_address()
    }
}

/// The namespaces `host` granted to `system`, read from the registry (`None`: no grant).
fn granted<H: Host + ?Sized>(host: &mut H, host_address: Address, system: Address) -> Option<Vec<[u8; 4]>> {
    let base = grant_slot(host_address, system);
    let count = read_registry(host, base)?;
    if count.is_zero() {
        return None;
    }
    let count = usize::try_from(count).unwrap_or(0).min(MAX_NAMESPACES);
    let mut namespaces = Vec::with_capacity(count);
    for i in 1..=count {
        let word = read_registry(host, base.wrapping_add(U256::from(i)))?.to_be_bytes::<32>();
        namespaces.push([word[0], word[1], word[2], word[3]]);
    }
    Some(namespaces)
}

/// In a virtualized frame, storage access must stay inside the namespaces the host granted the system.
fn virtual_storage_check<H>(host: &mut H, it: &Interpreter<EthInterpreter>, slot: U256) -> Option<Violation>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let system = it.input.bytecode_address?;
    let slot = B256::from(slot.to_be_bytes::<32>());
    let inside = granted(host, it.input.target_address(), system)
        .is_some_and(|namespaces| namespaces.iter().any(|ns| slot.as_slice().starts_with(ns)));
    (!inside).then(|| Violation::new(ViolationKind::StorageNamespace, system, slot))
}

/// CALLCODE, DELEGATECALL and SELFDESTRUCT are never allowed in a virtualized frame.
fn virtual_op_check(it: &Interpreter<EthInterpreter>, op: Op) -> Option<Violation> {
    (virtualized(it) && matches!(op, Op::CallCode | Op::DelegateCall | Op::SelfDestruct)).then(|| {
        Violation::new(ViolationKind::VirtualizedOp, subject(it), Violation::number(op.opcode().into()))
    })
}

fn call_op(kind: u8) -> Op {
    match kind {
        opcode::CALL => Op::Call,
        opcode::CALLCODE => Op::CallCode,
        opcode::DELEGATECALL => Op::DelegateCall,
        _ => Op::StaticCall,
    }
}

fn hook_call<const KIND: u8, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    let has_value = matches!(KIND, opcode::CALL | opcode::CALLCODE);
    let (Some(gas), Some(to)) = (peek(it, 0), peek(it, 1)) else {
        // Too few operands: revm's instruction halts with a stack underflow.
        return contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host });
    };
    let to = word_address(to);
    let value = if has_value { peek(it, 2).unwrap_or_default() } else { U256::ZERO };
    if let Some(v) = virtual_op_check(it, call_op(KIND)) {
        return revert(it, v);
    }
    let depth = it.input.depth as u64;
    let mut cap = None;
    if let Some(v) = check(host, it, |rule, me| {
        cap = rule.max_call_gas;
        rule.check_call(call_op(KIND), me, depth, to, value)
    }) {
        return revert(it, v);
    }
    if let Some(cap) = cap.map(U256::from).filter(|cap| gas > *cap) {
        // The gas cap: the call gets at most this much (the operand is replaced before revm reads it).
        let data = it.stack.data_mut();
        let top = data.len() - 1;
        data[top] = cap;
    }
    if to != VCALL_ADDRESS || KIND != opcode::CALL {
        // Other kinds of call to the virtualized-call address reach its precompile, which refuses them.
        return contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host });
    }
    // A CALL to the virtualized-call address: vcall(system, data) becomes a frame running the system's code in
    // this contract's storage; grant / revoke go on to the precompile (from a virtualized frame they are refused).
    let args = call_args(it);
    let sel = [
        args.first().copied().unwrap_or(0),
        args.get(1).copied().unwrap_or(0),
        args.get(2).copied().unwrap_or(0),
        args.get(3).copied().unwrap_or(0),
    ];
    let me = subject(it);
    if sel == grant_selector() || sel == revoke_selector() {
        if virtualized(it) {
            return revert(it, Violation::new(ViolationKind::VcallMisuse, me, selector_detail(sel)));
        }
        return contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host });
    }
    if sel != vcall_selector() {
        return contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host });
    }
    let Some((system, data)) = decode_vcall(&args) else {
        return revert(it, Violation::new(ViolationKind::VcallMisuse, me, selector_detail(sel)));
    };
    if !value.is_zero() {
        return revert(it, Violation::new(ViolationKind::CallValue, me, Violation::address(VCALL_ADDRESS)));
    }
    let world = it.input.target_address();
    if granted(host, world, system).is_none() {
        return revert(it, Violation::new(ViolationKind::NotGranted, me, Violation::address(system)));
    }
    let code = match host.load_account_info_skip_cold_load(system, true, false) {
        Ok(account) => account.code.clone().map(|code| (account.code_hash, code)),
        Err(_) => None,
    };
    let Some((code_hash, code)) = code else {
        return revert(it, Violation::new(ViolationKind::NotGranted, me, Violation::address(system)));
    };
    if code.is_eip7702() {
        return revert(it, Violation::new(ViolationKind::VcallMisuse, me, Violation::address(system)));
    }
    // The host's own caller, appended to the data as MUD's systems expect (`_msgSender()`).
    let mut input = data;
    input.extend_from_slice(it.input.caller_address().as_slice());
    let result = contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host });
    if result != Err(InstructionResult::Suspend) {
        return result;
    }
    if let Some(InterpreterAction::NewFrame(FrameInput::Call(inputs))) = it.bytecode.action().as_mut() {
        inputs.known_bytecode = (code_hash, code);
        inputs.bytecode_address = system;
        inputs.target_address = world;
        inputs.caller = VCALL_ADDRESS;
        inputs.value = CallValue::Apparent(U256::ZERO);
        inputs.scheme = CallScheme::DelegateCall;
        inputs.input = CallInput::Bytes(input.into());
    }
    result
}

fn selector_detail(sel: [u8; 4]) -> B256 {
    let mut word = B256::ZERO;
    word[..4].copy_from_slice(&sel);
    word
}

/// The argument bytes of the CALL about to run (memory the call would expand is read as zeros).
fn call_args(it: &Interpreter<EthInterpreter>) -> Vec<u8> {
    let (Some(offset), Some(len)) = (peek(it, 3), peek(it, 4)) else { return Vec::new() };
    memory_range(it, offset, len).unwrap_or_default()
}

/// `vcall(address system, bytes data)`'s arguments, ABI-decoded (bounds-checked).
fn decode_vcall(args: &[u8]) -> Option<(Address, Vec<u8>)> {
    let word = |at: usize| args.get(at..at.checked_add(32)?).map(U256::from_be_slice);
    let system = word(4)?;
    if system >> 160 != U256::ZERO {
        return None;
    }
    let offset = usize::try_from(word(36)?).ok()?.checked_add(4)?;
    let len = usize::try_from(word(offset)?).ok()?;
    let start = offset.checked_add(32)?;
    let data = args.get(start..start.checked_add(len)?)?.to_vec();
    Some((word_address(system), data))
}

fn hook_create<const IS_CREATE2: bool, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    let op = if IS_CREATE2 { Op::Create2 } else { Op::Create };
    if let Some(index) = frame_rule(host, it) {
        let me = subject(it);
        let (violation, inherit, capped) = match host.chain().policy.as_deref().and_then(|p| p.rule(index)) {
            Some(rule) => (rule.check_op(op, me), rule.inherit, rule.max_code_size.is_some()),
            None => (None, false, false),
        };
        if let Some(v) = violation {
            return revert(it, v);
        }
        if inherit || capped {
            let Some(created) = created_address::<IS_CREATE2, H>(host, it) else {
                // The address cannot be worked out (init code beyond 1 MiB): fail closed.
                let size = peek(it, 2).and_then(|l| u64::try_from(l).ok()).unwrap_or(u64::MAX);
                return revert(it, Violation::new(ViolationKind::CodeSize, me, Violation::number(size)));
            };
            if capped {
                host.chain_mut().code_caps.insert(created, (index, me));
            }
            if inherit && creation_can_start(host, it, created) {
                // The contract about to be created inherits the rule: record it in state before its code runs.
                // (The cache is only invalidated: the next lookup reads the journal, which a revert rolls back.)
                host.load_account_info_skip_cold_load(REGISTRY_ADDRESS, false, false).ok();
                host.sstore(REGISTRY_ADDRESS, inherited_slot(created), U256::from(index + 1));
                let sandbox = host.chain_mut();
                sandbox.inherited.remove(&created);
                sandbox.last = [None, None];
            }
        }
    }
    contract::create::<IS_CREATE2, EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

/// Whether revm's CREATE will get as far as running the init code: depth below 1024, enough balance for the
/// endowment, and no contract (code or nonce) at the address already.
fn creation_can_start<H: Host + ?Sized>(
    host: &mut H,
    it: &Interpreter<EthInterpreter>,
    created: Address,
) -> bool {
    if it.input.depth + 1 > 1024 {
        return false;
    }
    let value = peek(it, 0).unwrap_or_default();
    let creator = it.input.target_address();
    let balance = host.load_account_info_skip_cold_load(creator, false, false).map(|a| a.balance);
    if balance.map_or(true, |b| b < value) {
        return false;
    }
    match host.load_account_info_skip_cold_load(created, true, false) {
        Ok(account) => account.nonce == 0 && account.code.as_ref().is_none_or(|c| c.is_empty()),
        Err(_) => false,
    }
}

/// The address CREATE / CREATE2 is about to deploy to (CREATE: the creator's current nonce; CREATE2: salt and
/// init code hash).
fn created_address<const IS_CREATE2: bool, H: Host + ?Sized>(
    host: &mut H,
    it: &Interpreter<EthInterpreter>,
) -> Option<Address> {
    let creator = it.input.target_address();
    if IS_CREATE2 {
        let (offset, len, salt) = (peek(it, 1)?, peek(it, 2)?, peek(it, 3)?);
        let code = memory_range(it, offset, len)?;
        Some(creator.create2(B256::from(salt.to_be_bytes::<32>()), alloy_primitives::keccak256(code)))
    } else {
        let nonce = host.load_account_info_skip_cold_load(creator, false, false).ok()?.nonce;
        Some(creator.create(nonce))
    }
}

/// `len` bytes of memory from `offset` (beyond the memory's size: zeros, as expansion would give), up to 1 MiB.
fn memory_range(it: &Interpreter<EthInterpreter>, offset: U256, len: U256) -> Option<Vec<u8>> {
    let len = usize::try_from(len).ok().filter(|l| *l <= 1 << 20)?;
    let mut out = vec![0u8; len];
    if len == 0 {
        return Some(out);
    }
    let offset = usize::try_from(offset).ok()?;
    let size = it.memory.size();
    if offset < size {
        let available = (size - offset).min(len);
        out[..available].copy_from_slice(&it.memory.slice_len(offset, available));
    }
    Some(out)
}

fn hook_selfdestruct<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = virtual_op_check(it, Op::SelfDestruct)
        .or_else(|| check(host, it, |rule, me| rule.check_op(Op::SelfDestruct, me)))
    {
        return revert(it, v);
    }
    ops::selfdestruct::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

fn store_check<H>(host: &mut H, it: &Interpreter<EthInterpreter>, op: Op) -> Option<Violation>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let slot = peek(it, 0)?;
    if virtualized(it) {
        if let Some(v) = virtual_storage_check(host, it, slot) {
            return Some(v);
        }
    }
    check(host, it, |rule, me| rule.check_store(op, me, B256::from(slot.to_be_bytes::<32>())))
}

/// SLOAD (`TRANSIENT = false`) and TLOAD: in a virtualized frame, only inside the granted namespaces.
fn hook_load<const TRANSIENT: bool, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if virtualized(it) {
        if let Some(v) = peek(it, 0).and_then(|slot| virtual_storage_check(host, it, slot)) {
            return revert(it, v);
        }
    }
    let c = InstructionContext { interpreter: it, host };
    if TRANSIENT {
        ops::tload::<EthInterpreter, H>(c)
    } else {
        ops::sload::<EthInterpreter, H>(c)
    }
}

/// SSTORE (`TRANSIENT = false`) and TSTORE: the frame's rule (denied op, namespaces) and, in a virtualized frame,
/// the grant.
fn hook_store<const TRANSIENT: bool, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = store_check(host, it, if TRANSIENT { Op::TStore } else { Op::SStore }) {
        return revert(it, v);
    }
    let c = InstructionContext { interpreter: it, host };
    if TRANSIENT {
        ops::tstore::<EthInterpreter, H>(c)
    } else {
        ops::sstore::<EthInterpreter, H>(c)
    }
}

fn hook_log<const N: usize, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = check(host, it, |rule, me| rule.check_op(Op::log(N), me)) {
        return revert(it, v);
    }
    ops::log::<N, H>(InstructionContext { interpreter: it, host })
}

/// RETURN from a create frame deploys code: the creating frame's rule may cap its size (recorded at its CREATE).
fn hook_return<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if it.input.bytecode_address.is_none() {
        if let Some(len) = peek(it, 1) {
            let sandbox = host.chain();
            if let Some(&(index, creator)) = sandbox.code_caps.get(&it.input.target_address()) {
                let size = usize::try_from(len).unwrap_or(usize::MAX);
                let violation =
                    sandbox.policy.as_deref().and_then(|p| p.rule(index)?.check_code_size(creator, size));
                if let Some(v) = violation {
                    return revert(it, v);
                }
            }
        }
    }
    control::ret::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

/// revm's precompiles, plus (on a chain with a policy) the virtualized-call address: `grant` and `revoke` are
/// answered here; a `vcall` never gets here from a CALL (the CALL hook turns it into a frame), so one that does —
/// a transaction sent straight to the address, a STATICCALL, DELEGATECALL or CALLCODE — is refused.
#[derive(Debug, Clone)]
pub struct KeelPrecompiles {
    inner: EthPrecompiles,
    warm: AddressSet,
    sandbox: bool,
}

impl KeelPrecompiles {
    pub fn new(spec: SpecId, sandbox: bool) -> Self {
        let inner = EthPrecompiles::new(spec);
        let mut warm = inner.warm_addresses().clone();
        if sandbox {
            warm.insert(VCALL_ADDRESS);
        }
        Self { inner, warm, sandbox }
    }
}

impl<CTX> PrecompileProvider<CTX> for KeelPrecompiles
where
    CTX: ContextTr<Cfg: Cfg<Spec = SpecId>> + Host,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        let changed = <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.inner, spec);
        self.warm.clone_from(self.inner.warm_addresses());
        if self.sandbox {
            self.warm.insert(VCALL_ADDRESS);
        }
        changed
    }

    fn run(&mut self, context: &mut CTX, inputs: &CallInputs) -> Result<Option<Self::Output>, String> {
        if self.sandbox && inputs.bytecode_address == VCALL_ADDRESS {
            return Ok(Some(vcall_precompile(context, inputs)));
        }
        <EthPrecompiles as PrecompileProvider<CTX>>::run(&mut self.inner, context, inputs)
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }
}

/// Gas for a grant: per word written.
const GRANT_GAS_PER_WORD: u64 = 20_000;
/// Gas for a revoke: per word cleared.
const REVOKE_GAS_PER_WORD: u64 = 5_000;

fn vcall_precompile<CTX: ContextTr + Host>(context: &mut CTX, inputs: &CallInputs) -> InterpreterResult {
    let gas_limit = inputs.gas_limit;
    let input = inputs.input.bytes(context);
    let host_address = inputs.caller;
    let refuse = |sel: [u8; 4]| {
        let violation = Violation::new(ViolationKind::VcallMisuse, host_address, selector_detail(sel));
        InterpreterResult::new(InstructionResult::Revert, violation.revert_data().into(), Gas::new(gas_limit))
    };
    let sel = match input.get(..4) {
        Some(s) => [s[0], s[1], s[2], s[3]],
        None => return refuse([0; 4]),
    };
    if inputs.scheme != CallScheme::Call || inputs.is_static || !inputs.value.get().is_zero() {
        return refuse(sel);
    }
    let word = |at: usize| input.get(at..at.checked_add(32)?).map(U256::from_be_slice);
    let Some(system) = word(4).filter(|w| *w >> 160 == U256::ZERO).map(word_address) else {
        return refuse(sel);
    };
    let base = grant_slot(host_address, system);
    let old = match read_registry(context, base) {
        Some(count) => usize::try_from(count).unwrap_or(0).min(MAX_NAMESPACES),
        None => return refuse(sel),
    };
    let new: Vec<U256> = if sel == grant_selector() {
        let parsed = (|| {
            let offset = usize::try_from(word(36)?).ok()?.checked_add(4)?;
            let n = usize::try_from(word(offset)?).ok()?;
            if n == 0 || n > MAX_NAMESPACES {
                return None;
            }
            (0..n)
                .map(|i| {
                    let w = word(offset.checked_add(32 + 32 * i)?)?;
                    // bytes4 is left-aligned; anything after its 4 bytes must be zero.
                    (w << 32 == U256::ZERO).then_some(w)
                })
                .collect::<Option<Vec<U256>>>()
        })();
        match parsed {
            Some(namespaces) => namespaces,
            None => return refuse(sel),
        }
    } else if sel == revoke_selector() {
        Vec::new()
    } else {
        return refuse(sel);
    };
    let words = 1 + new.len().max(old) as u64;
    let per_word = if new.is_empty() { REVOKE_GAS_PER_WORD } else { GRANT_GAS_PER_WORD };
    let mut gas = Gas::new(gas_limit);
    if !gas.record_regular_cost(per_word * words) {
        let mut spent = Gas::new(gas_limit);
        spent.spend_all();
        return InterpreterResult::new(InstructionResult::PrecompileOOG, Default::default(), spent);
    }
    let mut write = |slot: U256, value: U256| context.sstore(REGISTRY_ADDRESS, slot, value).is_some();
    let mut ok = write(base, U256::from(new.len()));
    for i in 0..new.len().max(old) {
        ok &= write(base.wrapping_add(U256::from(i + 1)), new.get(i).copied().unwrap_or_default());
    }
    if !ok {
        return InterpreterResult::new(InstructionResult::FatalExternalError, Default::default(), gas);
    }
    InterpreterResult::new(InstructionResult::Return, Default::default(), gas)
}
