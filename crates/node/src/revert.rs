//! Revert data and halts as geth reports them.

use alloy_sol_types::{GenericContractError, SolInterface};
use keel_evm::revm::context::result::{HaltReason, OutOfGasError};

/// The human-readable reason in revert data: `Error(string)`'s message, `Panic(uint256)`'s code, or `None` for
/// custom errors and empty data (the raw data is always returned beside it).
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    match GenericContractError::abi_decode(data).ok()? {
        GenericContractError::Revert(revert) => Some(revert.reason),
        GenericContractError::Panic(panic) => Some(panic.to_string()),
    }
}

/// geth's message for a halted call.
pub fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic | OutOfGasError::ReentrancySentry) => "out of gas".into(),
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::InvalidFEOpcode | HaltReason::OpcodeNotFound => "invalid opcode".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StateChangeDuringStaticCall => "write protection".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        other => format!("{other:?}"),
    }
}
