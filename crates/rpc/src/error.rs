//! JSON-RPC errors: EIP-1474 codes, geth's messages, revert data for reverted calls.

use jsonrpsee::types::ErrorObjectOwned;
use keel_node::NodeError;

/// EIP-1474 / JSON-RPC 2.0 codes keel uses.
pub(crate) mod code {
    pub(crate) const INVALID_PARAMS: i32 = -32602;
    pub(crate) const INTERNAL: i32 = -32603;
    /// Invalid input: a transaction or call the node refuses (geth uses -32000 for these).
    pub(crate) const INVALID_INPUT: i32 = -32000;
    /// Resource not found (unknown block).
    pub(crate) const NOT_FOUND: i32 = -32001;
    /// A reverted call; `data` carries the revert bytes (geth and anvil use 3).
    pub(crate) const EXECUTION_REVERTED: i32 = 3;
}

pub(crate) type RpcResult<T> = Result<T, ErrorObjectOwned>;

pub(crate) fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code::INVALID_PARAMS, msg.into(), None::<()>)
}

pub(crate) fn internal(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code::INTERNAL, msg.into(), None::<()>)
}

/// Maps a node error onto its JSON-RPC error.
pub(crate) fn node_error(e: NodeError) -> ErrorObjectOwned {
    match &e {
        NodeError::Reverted { data, .. } => {
            ErrorObjectOwned::owned(code::EXECUTION_REVERTED, e.to_string(), Some(data.clone()))
        }
        NodeError::InvalidParams(_) => {
            ErrorObjectOwned::owned(code::INVALID_PARAMS, e.to_string(), None::<()>)
        }
        NodeError::UnknownBlock(_) => ErrorObjectOwned::owned(code::NOT_FOUND, e.to_string(), None::<()>),
        NodeError::InvalidTransaction(_)
        | NodeError::Pool(_)
        | NodeError::UnknownAccount(_)
        | NodeError::Halted(_) => ErrorObjectOwned::owned(code::INVALID_INPUT, e.to_string(), None::<()>),
        NodeError::Evm(keel_evm::EvmError::InvalidTransaction { reason, .. }) => {
            ErrorObjectOwned::owned(code::INVALID_INPUT, reason.clone(), None::<()>)
        }
        _ => ErrorObjectOwned::owned(code::INTERNAL, e.to_string(), None::<()>),
    }
}

pub(crate) fn store_error(e: keel_store::StoreError) -> ErrorObjectOwned {
    internal(e.to_string())
}
