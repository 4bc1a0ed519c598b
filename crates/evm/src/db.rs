//! The block-scoped state overlay revm executes against: it caches what was read from the [`StateProvider`],
//! accumulates every committed transaction's changes, and at the end of the block yields the net
//! [`StateChanges`] against the parent state.

use crate::{ProviderError, StateProvider};
use alloy_primitives::{keccak256, map::HashMap, Address, Bytes, B256, U256};
use keel_primitives::{AccountChange, StateChanges};
use keel_primitives::{StateAccount, EMPTY_CODE_HASH, EMPTY_ROOT_HASH};
use revm::{
    bytecode::Bytecode,
    database_interface::{Database, DatabaseCommit},
    primitives::AddressMap,
    state::{Account, AccountInfo},
};

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Value in the base the block's trie update starts from (the parent's, or zero once wiped).
    base: U256,
    present: U256,
}

#[derive(Debug, Clone)]
struct CachedAccount {
    /// The account in the parent state.
    original: Option<StateAccount>,
    /// The account now; `None` = does not exist.
    current: Option<(u64, U256, B256)>,
    storage: HashMap<U256, Slot>,
    wiped: bool,
}

impl CachedAccount {
    fn new(original: Option<StateAccount>) -> Self {
        let current = original.map(|a| (a.nonce, a.balance, a.code_hash));
        Self { original, current, storage: HashMap::default(), wiped: false }
    }

    fn wipe(&mut self) {
        self.storage.clear();
        self.wiped = true;
    }
}

/// The revm database of a [`crate::BlockExecutor`]: a cache over a [`StateProvider`] that accumulates the block's
/// committed changes (see the module docs).
#[derive(Debug)]
pub struct BlockState<P> {
    provider: P,
    accounts: HashMap<Address, CachedAccount>,
    contracts: HashMap<B256, Bytecode>,
    new_code: Vec<(B256, Bytes)>,
}

impl<P: StateProvider> BlockState<P> {
    pub(crate) fn new(provider: P) -> Self {
        Self { provider, accounts: HashMap::default(), contracts: HashMap::default(), new_code: Vec::new() }
    }

    pub(crate) fn provider(&self) -> &P {
        &self.provider
    }

    fn cached(&mut self, address: Address) -> Result<&mut CachedAccount, ProviderError> {
        if !self.accounts.contains_key(&address) {
            let original = self.provider.account(address)?;
            self.accounts.insert(address, CachedAccount::new(original));
        }
        self.accounts.get_mut(&address).ok_or(ProviderError::Backend("account cache".into()))
    }

    /// Adds `amount` wei to an account outside the EVM (withdrawals, EIP-4895).
    pub(crate) fn increment_balance(&mut self, address: Address, amount: U256) -> Result<(), ProviderError> {
        if amount.is_zero() {
            // A zero credit touches the account, and EIP-161 removes it again if empty: no net change.
            return Ok(());
        }
        let account = self.cached(address)?;
        let (nonce, balance, code_hash) = account.current.unwrap_or((0, U256::ZERO, EMPTY_CODE_HASH));
        account.current = Some((nonce, balance.saturating_add(amount), code_hash));
        Ok(())
    }

    /// Overwrites parts of an account outside the EVM (a dev node's `anvil_set*` cheat codes).
    pub(crate) fn apply_patch(&mut self, patch: &crate::StatePatch) -> Result<(), ProviderError> {
        for (slot, value) in &patch.storage {
            // Load the slot first so its base is the parent's value and the change is a real diff.
            let base = Database::storage(self, patch.address, *slot)?;
            let cached = self.cached(patch.address)?;
            cached.storage.entry(*slot).or_insert(Slot { base, present: base }).present = *value;
        }
        if let Some(code) = &patch.code {
            let hash = if code.is_empty() { EMPTY_CODE_HASH } else { keccak256(code) };
            if hash != EMPTY_CODE_HASH && !self.contracts.contains_key(&hash) {
                let bytecode = Bytecode::new_raw_checked(code.clone())
                    .unwrap_or_else(|_| Bytecode::new_legacy(code.clone()));
                self.contracts.insert(hash, bytecode);
                self.new_code.push((hash, code.clone()));
            }
        }
        let account = self.cached(patch.address)?;
        let (mut nonce, mut balance, mut code_hash) =
            account.current.unwrap_or((0, U256::ZERO, EMPTY_CODE_HASH));
        if let Some(b) = patch.balance {
            balance = b;
        }
        if let Some(n) = patch.nonce {
            nonce = n;
        }
        if let Some(code) = &patch.code {
            code_hash = if code.is_empty() { EMPTY_CODE_HASH } else { keccak256(code) };
        }
        account.current = Some((nonce, balance, code_hash));
        Ok(())
    }

    /// The net changes of the block so far, sorted by address.
    pub(crate) fn changes(&self) -> StateChanges {
        let mut accounts: Vec<AccountChange> = self
            .accounts
            .iter()
            .filter_map(|(address, cached)| {
                let mut storage: Vec<(U256, U256)> = cached
                    .storage
                    .iter()
                    .filter(|(_, s)| s.present != s.base)
                    .map(|(k, s)| (*k, s.present))
                    .collect();
                storage.sort_unstable_by_key(|(k, _)| *k);
                let account = cached.current.map(|(nonce, balance, code_hash)| StateAccount {
                    nonce,
                    balance,
                    storage_root: match (cached.wiped, cached.original) {
                        (false, Some(o)) => o.storage_root,
                        _ => EMPTY_ROOT_HASH,
                    },
                    code_hash,
                });
                let had_storage = cached.original.is_some_and(|o| o.storage_root != EMPTY_ROOT_HASH);
                let wiped = cached.wiped && had_storage;
                if account == cached.original && storage.is_empty() && !wiped {
                    return None;
                }
                Some(AccountChange {
                    address: *address,
                    hashed_address: keccak256(address),
                    account,
                    wiped,
                    storage,
                })
            })
            .collect();
        accounts.sort_unstable_by_key(|a| a.address);
        let mut new_code = self.new_code.clone();
        new_code.sort_unstable_by_key(|(h, _)| *h);
        new_code.dedup_by_key(|(h, _)| *h);
        StateChanges { accounts, new_code }
    }

    fn commit_account(&mut self, address: Address, account: Account) {
        if !account.is_touched() {
            return;
        }
        let cached = self.accounts.entry(address).or_insert_with(|| {
            // revm loads every account through `basic` first, so it is cached; if not, its original is what
            // revm saw.
            let info = account.original_info();
            CachedAccount::new((!info.is_empty()).then_some(StateAccount {
                nonce: info.nonce,
                balance: info.balance,
                storage_root: EMPTY_ROOT_HASH,
                code_hash: info.code_hash,
            }))
        });
        if account.is_selfdestructed() {
            cached.current = None;
            cached.wipe();
            return;
        }
        if account.is_created() {
            cached.wipe();
        } else if account.is_empty() {
            // EIP-161: a touched empty account is removed (revm's journal has already kept pre-Spurious-Dragon
            // empties alive by marking them created or untouched).
            cached.current = None;
            cached.wipe();
            return;
        }
        let info = &account.info;
        cached.current = Some((info.nonce, info.balance, info.code_hash));
        for (slot, value) in account.storage.iter() {
            if !value.is_changed() && !cached.wiped {
                continue;
            }
            cached.storage.entry(*slot).and_modify(|s| s.present = value.present_value()).or_insert(Slot {
                base: if cached.wiped { U256::ZERO } else { value.original_value() },
                present: value.present_value(),
            });
        }
        if let Some(code) = &info.code {
            if info.code_hash != EMPTY_CODE_HASH && !self.contracts.contains_key(&info.code_hash) {
                self.new_code.push((info.code_hash, code.original_bytes()));
                self.contracts.insert(info.code_hash, code.clone());
            }
        }
    }
}

impl<P: StateProvider> Database for BlockState<P> {
    type Error = ProviderError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let cached = self.cached(address)?;
        Ok(cached.current.map(|(nonce, balance, code_hash)| AccountInfo {
            balance,
            nonce,
            code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == EMPTY_CODE_HASH || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.contracts.get(&code_hash) {
            return Ok(code.clone());
        }
        let bytes = self.provider.code(code_hash)?;
        // Pre-state may hold bytes that are not a valid EIP-7702 designator yet start like one; run them as
        // legacy code, as they were deployed.
        let code = Bytecode::new_raw_checked(bytes.clone()).unwrap_or_else(|_| Bytecode::new_legacy(bytes));
        self.contracts.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let cached = self.cached(address)?;
        if let Some(slot) = cached.storage.get(&index) {
            return Ok(slot.present);
        }
        let root = match (cached.wiped, cached.original) {
            (false, Some(o)) => o.storage_root,
            _ => return Ok(U256::ZERO),
        };
        let value = self.provider.storage(address, root, index)?;
        if let Some(cached) = self.accounts.get_mut(&address) {
            cached.storage.insert(index, Slot { base: value, present: value });
        }
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.provider.block_hash(number)
    }
}

impl<P: StateProvider> DatabaseCommit for BlockState<P> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }
}
