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
use keel_policy::{inherited_slot, Op, Policy, Rule, Violation, REGISTRY_ADDRESS};
use revm::{
    bytecode::opcode,
    context_interface::ContextTr,
    interpreter::{
        instructions::{contract, control, host as ops},
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, LoopControl},
        Host, Instruction, InstructionContext, InstructionExecResult, InstructionResult, InstructionTable,
        Interpreter, InterpreterAction,
    },
};
use std::{collections::BTreeMap, sync::Arc};

type Ictx<'a, H> = InstructionContext<'a, H, EthInterpreter>;

/// The policy an EVM enforces, and what it has learnt during the block (inherited rules read from state).
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    policy: Option<Arc<Policy>>,
    /// address → inherited rule index, as read from (or written to) the registry in state.
    inherited: BTreeMap<Address, Option<usize>>,
}

impl Sandbox {
    pub fn new(policy: Option<Arc<Policy>>) -> Self {
        Self { policy, inherited: BTreeMap::new() }
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
    table[opcode::SSTORE as usize] = Instruction::new(hook_sstore::<H>);
    table[opcode::TSTORE as usize] = Instruction::new(hook_tstore::<H>);
    table[opcode::LOG0 as usize] = Instruction::new(hook_log::<0, H>);
    table[opcode::LOG1 as usize] = Instruction::new(hook_log::<1, H>);
    table[opcode::LOG2 as usize] = Instruction::new(hook_log::<2, H>);
    table[opcode::LOG3 as usize] = Instruction::new(hook_log::<3, H>);
    table[opcode::LOG4 as usize] = Instruction::new(hook_log::<4, H>);
    table[opcode::RETURN as usize] = Instruction::new(hook_return::<H>);
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
fn frame_rule<H>(host: &mut H, it: &Interpreter<EthInterpreter>) -> Option<(Arc<Policy>, usize)>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let policy = host.chain().policy.clone()?;
    if policy.is_empty() {
        return None;
    }
    let target = it.input.target_address();
    if let Some(rule) = policy.rule_for(target, it.bytecode.hash()) {
        let index = rule.index;
        return Some((policy, index));
    }
    let index = inherited_rule(host, &policy, target)?;
    Some((policy, index))
}

/// The rule `address` inherited (read from the registry account once per block, then remembered).
fn inherited_rule<H>(host: &mut H, policy: &Policy, address: Address) -> Option<usize>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    if !policy.has_inheritance() {
        return None;
    }
    if let Some(known) = host.chain().inherited.get(&address) {
        return *known;
    }
    let found = read_registry(host, inherited_slot(address))
        .and_then(|v| usize::try_from(v).ok())
        .and_then(|v| v.checked_sub(1))
        .filter(|i| *i < policy.rules().len());
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
    let (policy, index) = frame_rule(host, it)?;
    check(policy.rule(index)?, it.input.target_address())
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
    if let (Some(gas), Some(to)) = (peek(it, 0), peek(it, 1)) {
        let value = if has_value { peek(it, 2).unwrap_or_default() } else { U256::ZERO };
        let depth = it.input.depth as u64;
        if let Some(v) = check(host, it, |rule, me| {
            rule.check_call(call_op(KIND), me, depth, word_address(to), gas, value)
        }) {
            return revert(it, v);
        }
    }
    contract::call::<KIND, EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

fn hook_create<const IS_CREATE2: bool, H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    let op = if IS_CREATE2 { Op::Create2 } else { Op::Create };
    if let Some(v) = check(host, it, |rule, me| rule.check_op(op, me)) {
        return revert(it, v);
    }
    contract::create::<IS_CREATE2, EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

fn hook_selfdestruct<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = check(host, it, |rule, me| rule.check_op(Op::SelfDestruct, me)) {
        return revert(it, v);
    }
    ops::selfdestruct::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

fn store_check<H>(host: &mut H, it: &Interpreter<EthInterpreter>, op: Op) -> Option<Violation>
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let slot = peek(it, 0)?;
    check(host, it, |rule, me| rule.check_store(op, me, B256::from(slot.to_be_bytes::<32>())))
}

fn hook_sstore<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = store_check(host, it, Op::SStore) {
        return revert(it, v);
    }
    ops::sstore::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
}

fn hook_tstore<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if let Some(v) = store_check(host, it, Op::TStore) {
        return revert(it, v);
    }
    ops::tstore::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
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

/// RETURN from a create frame deploys code: the creator's rule may cap its size.
fn hook_return<H>(c: Ictx<'_, H>) -> InstructionExecResult
where
    H: Host + ContextTr<Chain = Sandbox>,
{
    let Ictx { interpreter: it, host } = c;
    if it.input.bytecode_address.is_none() {
        if let Some(len) = peek(it, 1) {
            let creator = it.input.caller_address();
            let policy = host.chain().policy.clone();
            if let Some(policy) = policy.filter(|p| !p.is_empty()) {
                let index = match policy.rule_for_address(creator) {
                    Some(rule) => Some(rule.index),
                    None => inherited_rule(host, &policy, creator),
                };
                let size = usize::try_from(len).unwrap_or(usize::MAX);
                if let Some(v) =
                    index.and_then(|i| policy.rule(i)).and_then(|r| r.check_code_size(creator, size))
                {
                    return revert(it, v);
                }
            }
        }
    }
    control::ret::<EthInterpreter, H>(InstructionContext { interpreter: it, host })
}
