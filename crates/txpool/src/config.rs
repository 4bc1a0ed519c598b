use std::time::Duration;

/// Pool limits, with go-ethereum's defaults and meanings (`--txpool.*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Minimum gas tip (wei) to accept a transaction (`--txpool.pricelimit`).
    pub price_limit: u128,
    /// Percentage a replacement must raise both the fee cap and the tip by (`--txpool.pricebump`).
    pub price_bump: u64,
    /// Executable transactions guaranteed per account (`--txpool.accountslots`).
    pub account_slots: u64,
    /// Executable transaction slots for all accounts (`--txpool.globalslots`).
    pub global_slots: u64,
    /// Non-executable transactions allowed per account (`--txpool.accountqueue`).
    pub account_queue: u64,
    /// Non-executable transactions for all accounts (`--txpool.globalqueue`).
    pub global_queue: u64,
    /// How long an account's queued transactions may sit without activity (`--txpool.lifetime`).
    pub lifetime: Duration,
    /// Journal of local transactions (`--txpool.journal`); `None` turns journaling off.
    pub journal: Option<std::path::PathBuf>,
    /// How often the journal is rewritten (`--txpool.rejournal`).
    pub rejournal: Duration,
    /// Do not track transactions submitted through RPC as local (`--txpool.nolocals`).
    pub no_locals: bool,
}

/// Capacity is counted in slots of this many bytes of encoded transaction.
pub const TX_SLOT_SIZE: usize = 32 * 1024;
/// The largest encoded transaction the pool accepts.
pub const TX_MAX_SIZE: usize = 4 * TX_SLOT_SIZE;

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            price_limit: 1,
            price_bump: 10,
            account_slots: 16,
            global_slots: 4096 + 1024,
            account_queue: 64,
            global_queue: 1024,
            lifetime: Duration::from_secs(3 * 3600),
            // geth's default is `transactions.rlp` in the datadir; the caller knows where that is (`keel node`
            // sets it), so a library default of a path relative to the working directory would be a trap.
            journal: None,
            rejournal: Duration::from_secs(3600),
            no_locals: false,
        }
    }
}

impl PoolConfig {
    /// geth's `sanitize`: a value below 1 means the default.
    pub fn sanitized(mut self) -> Self {
        let d = Self::default();
        if self.price_limit < 1 {
            self.price_limit = d.price_limit;
        }
        if self.price_bump < 1 {
            self.price_bump = d.price_bump;
        }
        if self.account_slots < 1 {
            self.account_slots = d.account_slots;
        }
        if self.global_slots < 1 {
            self.global_slots = d.global_slots;
        }
        if self.account_queue < 1 {
            self.account_queue = d.account_queue;
        }
        if self.global_queue < 1 {
            self.global_queue = d.global_queue;
        }
        if self.lifetime < Duration::from_secs(1) {
            self.lifetime = d.lifetime;
        }
        if self.rejournal < Duration::from_secs(1) {
            self.rejournal = Duration::from_secs(1);
        }
        self
    }
}
