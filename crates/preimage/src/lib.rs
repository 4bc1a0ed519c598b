//! `keel-preimage`: the preimage-oracle protocol of op-program and kona, byte for byte (`../shared/PREIMAGE.md`
//! in the team docs): keys, the preimage and hint exchanges over any byte stream, and the offline key-value
//! directory. No dependency on the rest of keel; no clocks, threads or randomness on the client side.
//!
//! Where to start reading:
//! - [`PreimageKey`] (`key.rs`): the 32-byte key, its types and the check that a keccak256 / sha256 value hashes
//!   to its key.
//! - [`OracleClient`] / [`serve_preimages`] (`oracle.rs`): `key → length ‖ value` frames.
//! - [`HintWriter`] / [`serve_hints`] (`hint.rs`): `length ‖ "<type> 0x<hex>"` frames acknowledged by one zero byte,
//!   and [`Hint`], the parsed form with keel's hint types and their fixed payload lengths.
//! - [`KvDirectory`] (`directory.rs`): op-program's "directory" store of preimages, one file per key.
//! - [`ClientFds`] / [`run_client`] (`channel.rs`): the fd 3–6 pipes between a client process and its host.

mod channel;
mod directory;
mod error;
mod hint;
mod io;
mod key;
mod oracle;

pub use channel::{run_client, run_client_with_deadline, spawn_client, ClientFds, HostChannels, HostRun};
pub use directory::KvDirectory;
pub use error::PreimageError;
pub use hint::{serve_hints, Hint, HintType, HintWriter};
pub use key::{KeyType, PreimageKey};
pub use oracle::{serve_preimages, OracleClient, PIPELINE_WINDOW};

/// Limits checked before any allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest preimage value accepted (bytes).
    pub max_value: u64,
    /// Largest hint accepted (bytes).
    pub max_hint: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_value: 64 * 1024 * 1024, max_hint: 1024 * 1024 }
    }
}

/// Boot information: the local keys' indices (op-program and kona agree on 1–5).
pub mod boot {
    pub const AGREED_BLOCK_HASH: u64 = 1;
    pub const AGREED_OUTPUT_ROOT: u64 = 2;
    pub const CLAIMED_OUTPUT_ROOT: u64 = 3;
    pub const CLAIMED_BLOCK_NUMBER: u64 = 4;
    pub const CHAIN_ID: u64 = 5;
    pub const CHAIN_SPEC: u64 = 6;
}
