use crate::StateChanges;
use alloy_primitives::{Bytes, B256};
use keel_trie::{NodeStore, SecureTrie, TrieError};

/// The result of applying a block's state diff to the parent's state trie.
#[derive(Debug, Clone, Default)]
pub struct StateRootUpdate {
    pub state_root: B256,
    /// Every trie node (account and storage tries) created by the update: what a store must persist so the new
    /// root can be opened.
    pub nodes: Vec<(B256, Bytes)>,
}

/// Applies `changes` to the state trie rooted at `parent_root`, reading existing nodes from `store`. Fills in the
/// new storage root of every changed account in `changes`. Each storage trie and the account trie are updated in
/// one batch, so every node on a changed path is loaded and rehashed once.
pub fn apply_state_changes<S: NodeStore>(
    store: &S,
    parent_root: B256,
    changes: &mut StateChanges,
) -> Result<StateRootUpdate, TrieError> {
    let mut nodes = Vec::new();
    let mut account_updates: Vec<(B256, Option<Vec<u8>>)> = Vec::with_capacity(changes.accounts.len());
    for change in &mut changes.accounts {
        let Some(account) = change.account.as_mut() else {
            account_updates.push((change.hashed_address, None));
            continue;
        };
        if !change.storage.is_empty() {
            let mut storage = SecureTrie::open(account.storage_root, store);
            let updates: Vec<(B256, Option<Vec<u8>>)> = change
                .storage
                .iter()
                .map(|(slot, value)| {
                    let key = alloy_primitives::keccak256(slot.to_be_bytes::<32>());
                    (key, (!value.is_zero()).then(|| alloy_rlp::encode(value)))
                })
                .collect();
            storage.apply_batch_hashed(updates)?;
            let (root, new_nodes) = storage.commit();
            account.storage_root = root;
            nodes.extend(new_nodes);
        }
        account_updates.push((change.hashed_address, Some(alloy_rlp::encode(*account))));
    }
    let mut state = SecureTrie::open(parent_root, store);
    state.apply_batch_hashed(account_updates)?;
    let (state_root, new_nodes) = state.commit();
    nodes.extend(new_nodes);
    Ok(StateRootUpdate { state_root, nodes })
}
