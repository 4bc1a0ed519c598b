//! Checking the stored state against a state root: what a reopened (possibly crashed) datadir must satisfy.

use crate::{StoreError, StoreSnapshot, Table};
use alloy_primitives::{keccak256, Address, Bytes, B256};
use keel_primitives::StateAccount;
use keel_trie::{for_each_leaf, MemoryNodeStore, Trie, TrieError};
use std::collections::BTreeMap;

/// What [`StoreSnapshot::check_state`] looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateCheck {
    pub accounts: usize,
    pub storage_slots: usize,
}

/// The root of a trie holding exactly `leaves`, built in memory (independently of the stored nodes).
fn rebuilt_root<'a>(leaves: impl IntoIterator<Item = (&'a B256, &'a Bytes)>) -> Result<B256, TrieError> {
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.apply_batch(leaves.into_iter().map(|(k, v)| (k, Some(v))))?;
    Ok(trie.root())
}

/// All leaves of the stored trie `root`, keyed by their 32-byte (hashed) keys.
fn leaves(snapshot: &StoreSnapshot, root: B256, what: &str) -> Result<BTreeMap<B256, Bytes>, StoreError> {
    let mut out = BTreeMap::new();
    for_each_leaf(snapshot, root, |key, value| {
        let key = B256::try_from(key).map_err(|_| TrieError::MalformedNode {
            hash: root,
            reason: format!("{what} trie key of {} bytes", key.len()),
        })?;
        out.insert(key, value.clone());
        Ok(())
    })?;
    Ok(out)
}

fn mismatch(msg: String) -> StoreError {
    StoreError::StateMismatch(msg)
}

impl StoreSnapshot {
    /// Verifies the head state against `state_root`:
    /// 1. every trie node under `state_root` (and under every account's storage root) is stored and hashes to
    ///    its key, and a trie rebuilt in memory from the leaves has exactly those roots;
    /// 2. the flat account and storage tables hold exactly the same accounts and slots as the tries.
    pub fn check_state(&self, state_root: B256) -> Result<StateCheck, StoreError> {
        let accounts = leaves(self, state_root, "account")?;
        let rebuilt = rebuilt_root(&accounts)?;
        if rebuilt != state_root {
            return Err(mismatch(format!(
                "account trie leaves rebuild to {rebuilt}, not state root {state_root}"
            )));
        }

        let mut flat_accounts = Vec::new();
        let mut error = None;
        self.kv.scan_prefix(Table::Accounts, &[], &mut |key, raw| {
            match (Address::try_from(key), alloy_rlp::decode_exact::<StateAccount>(raw)) {
                (Ok(address), Ok(account)) => flat_accounts.push((address, account)),
                (address, account) => {
                    let reason = match (address, account) {
                        (Err(_), _) => format!("key of {} bytes is not an address", key.len()),
                        (_, Err(e)) => e.to_string(),
                        _ => unreachable!("both decoded"),
                    };
                    error = Some(StoreError::corrupt(Table::Accounts, key, reason));
                    return false;
                }
            }
            true
        })?;
        if let Some(e) = error {
            return Err(e);
        }
        if flat_accounts.len() != accounts.len() {
            return Err(mismatch(format!(
                "flat state has {} accounts, the state trie {}",
                flat_accounts.len(),
                accounts.len()
            )));
        }

        let mut check = StateCheck { accounts: accounts.len(), storage_slots: 0 };
        for (address, account) in flat_accounts {
            let in_trie = accounts.get(&keccak256(address));
            if in_trie.map(|rlp| rlp.as_ref()) != Some(alloy_rlp::encode(account).as_slice()) {
                return Err(mismatch(format!("flat account {address} differs from the state trie")));
            }
            let slots = leaves(self, account.storage_root, "storage")?;
            let rebuilt = rebuilt_root(&slots)?;
            if rebuilt != account.storage_root {
                return Err(mismatch(format!(
                    "storage trie of {address} rebuilds to {rebuilt}, not its storage root {}",
                    account.storage_root
                )));
            }
            let flat = self.storage_slots(address)?;
            if flat.len() != slots.len() {
                return Err(mismatch(format!(
                    "flat storage of {address} has {} slots, its storage trie {}",
                    flat.len(),
                    slots.len()
                )));
            }
            for (slot, value) in flat {
                let in_trie = slots.get(&keccak256(slot.to_be_bytes::<32>()));
                if in_trie.map(|rlp| rlp.as_ref()) != Some(alloy_rlp::encode(value).as_slice()) {
                    return Err(mismatch(format!(
                        "flat storage {address}[{slot}] differs from its storage trie"
                    )));
                }
            }
            check.storage_slots += slots.len();
        }

        let mut stored_slots = 0usize;
        self.kv.scan_prefix(Table::Storage, &[], &mut |_, _| {
            stored_slots += 1;
            true
        })?;
        if stored_slots != check.storage_slots {
            return Err(mismatch(format!(
                "flat storage table has {stored_slots} slots, the accounts' storage tries {}",
                check.storage_slots
            )));
        }
        Ok(check)
    }
}
