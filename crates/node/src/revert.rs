//! Revert data and halts as geth reports them.

use alloy_sol_types::{GenericContractError, SolInterface};
use keel_evm::revm::context::result::{HaltReason, OutOfGasError};

/// The human-readable reason in revert data, worded as anvil does: `Error(string)`'s message, `Panic(uint256)`'s
/// meaning, `custom error 0x<selector>: <arguments>` for anything else, `None` for empty data (the raw data is
/// always returned beside it).
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    if data.is_empty() {
        return None;
    }
    match GenericContractError::abi_decode(data) {
        Ok(GenericContractError::Revert(revert)) => Some(revert.reason),
        Ok(GenericContractError::Panic(panic)) => Some(panic.to_string()),
        Err(_) if data.len() >= 4 => Some(format!(
            "custom error 0x{}: {}",
            alloy_primitives::hex::encode(&data[..4]),
            alloy_primitives::hex::encode(&data[4..])
        )),
        Err(_) => Some(format!("0x{}", alloy_primitives::hex::encode(data))),
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
