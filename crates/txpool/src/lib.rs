//! `keel-txpool`: keel's transaction pool, with go-ethereum's legacy-pool semantics.
//!
//! Where to start reading:
//! - [`Validator`] (`tx.rs`): the stateless checks in geth's order (type, size, init code, gas limit, fee caps,
//!   signature and chain id, intrinsic gas, minimum tip). They need no lock, so callers run them first (in
//!   parallel for batches) and hand [`PoolTx`]s to the pool.
//! - [`Pool`] (`pool.rs`): per-sender *pending* (gapless from the state nonce, executable) and *queued* lists
//!   (`list.rs`), replacement with a price bump, capacity in 32 KiB slots, eviction of the cheapest through two
//!   price heaps (`priced.rs`), the churn throttle, account and global limits, and [`Pool::reset`], the
//!   reorganisation run on every new head. One deliberate difference from geth: a run of transactions that
//!   together cost more than the balance is only promoted as far as the balance reaches.
//! - [`BestTransactions`] (`best.rs`): block building's order.
//! - [`LocalTracker`] and [`TxJournal`] (`locals.rs`): transactions submitted through the node's RPC, journaled
//!   and resubmitted as geth ≥ 1.15 does (outside the pool, with no exemptions inside it).
//!
//! Error messages are geth's ([`PoolError`]), so tools that match on them keep working.

mod best;
mod config;
mod error;
mod list;
mod locals;
mod pool;
mod priced;
mod tx;

pub use best::BestTransactions;
pub use config::{PoolConfig, TX_MAX_SIZE, TX_SLOT_SIZE};
pub use error::{PoolError, Shortfall};
pub use locals::{JournalError, LocalTracker, RecordSealer, TxJournal};
pub use pool::{AccountState, AddReport, Added, Pool, PoolHead, PoolStatus};
pub use tx::{PoolTx, PooledTx, Validator};

use std::time::{Duration, Instant};

/// Where the pool reads the time (account heartbeats, lifetime eviction); tests drive it by hand.
pub trait Clock: Send + Sync {
    /// Time since some fixed start.
    fn now(&self) -> Duration;
}

/// The monotonic system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}
