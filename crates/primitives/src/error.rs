use std::fmt;

/// Everything that can be wrong with the data this crate is handed.
#[derive(Debug, thiserror::Error)]
pub enum PrimitivesError {
    /// A genesis / chain spec document could not be parsed.
    #[error("genesis {source_name}: {reason}")]
    Genesis { source_name: String, reason: String },
    /// The mnemonic or derivation index could not produce a key.
    #[error("dev account {index} from mnemonic: {reason}")]
    Mnemonic { index: u32, reason: String },
}

impl PrimitivesError {
    pub(crate) fn genesis(source_name: impl fmt::Display, reason: impl fmt::Display) -> Self {
        Self::Genesis { source_name: source_name.to_string(), reason: reason.to_string() }
    }
}
