//! A block's net state diff: what the executor produces, the state trie update consumes and the store persists.

use crate::StateAccount;
use alloy_primitives::{Address, Bytes, B256, U256};

/// One account's net change over a block, against the parent state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    pub address: Address,
    pub hashed_address: B256,
    /// The account after the block; `None` if it no longer exists. Its `storage_root` is the parent's until
    /// `keel_evm::apply_state_changes` fills in the new one.
    pub account: Option<StateAccount>,
    /// Storage was cleared (self-destruct, re-creation, EIP-161 removal) before `storage` applies.
    pub wiped: bool,
    /// Changed slots with their new values (zero = deleted), sorted by slot.
    pub storage: Vec<(U256, U256)>,
}

/// The net state diff of a block, sorted by address, plus the contract code it deployed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    pub accounts: Vec<AccountChange>,
    pub new_code: Vec<(B256, Bytes)>,
}
