use alloy_primitives::U256;

/// Why the pool refused a transaction. The messages are go-ethereum's, so tools that match on them keep working;
/// the details after the colon follow geth's wording too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("already known")]
    AlreadyKnown,
    #[error("transaction type not supported: tx type {0} not supported by this pool")]
    TypeNotSupported(u8),
    #[error("oversized data: transaction size {size}, limit {limit}")]
    OversizedData { size: usize, limit: usize },
    #[error("max initcode size exceeded: code size {size}, limit {limit}")]
    MaxInitCodeSizeExceeded { size: usize, limit: usize },
    #[error("exceeds block gas limit")]
    GasLimit,
    /// Osaka (EIP-7825) caps a transaction's gas.
    #[error("transaction gas limit too high (cap: {cap}, tx: {gas})")]
    GasLimitTooHigh { cap: u64, gas: u64 },
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    #[error("invalid sender")]
    InvalidSender,
    #[error("nonce has max value")]
    NonceMax,
    #[error("intrinsic gas too low: gas {gas}, minimum needed {needed}")]
    IntrinsicGas { gas: u64, needed: u64 },
    #[error("insufficient gas for floor data gas cost: gas {gas}, minimum needed {needed}")]
    FloorDataGas { gas: u64, needed: u64 },
    #[error("transaction underpriced: gas tip cap {tip}, minimum needed {min}")]
    TipTooLow { tip: u128, min: u128 },
    /// The pool is full and the transaction pays less than the cheapest one in it.
    #[error("transaction underpriced")]
    Underpriced,
    #[error("nonce too low: next nonce {next}, tx nonce {nonce}")]
    NonceTooLow { next: u64, nonce: u64 },
    #[error("insufficient funds for gas * price + value: {0}")]
    InsufficientFunds(Box<Shortfall>),
    #[error("replacement transaction underpriced")]
    ReplaceUnderpriced,
    #[error("txpool is full")]
    PoolOverflow,
    #[error("future transaction tries to replace pending")]
    FutureReplacePending,
}

impl PoolError {
    /// geth's base error, without the details (what `errors.Is` would match on).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AlreadyKnown => "already known",
            Self::TypeNotSupported(_) => "transaction type not supported",
            Self::OversizedData { .. } => "oversized data",
            Self::MaxInitCodeSizeExceeded { .. } => "max initcode size exceeded",
            Self::GasLimit => "exceeds block gas limit",
            Self::GasLimitTooHigh { .. } => "transaction gas limit too high",
            Self::TipAboveFeeCap => "max priority fee per gas higher than max fee per gas",
            Self::InvalidSender => "invalid sender",
            Self::NonceMax => "nonce has max value",
            Self::IntrinsicGas { .. } => "intrinsic gas too low",
            Self::FloorDataGas { .. } => "insufficient gas for floor data gas cost",
            Self::TipTooLow { .. } | Self::Underpriced => "transaction underpriced",
            Self::NonceTooLow { .. } => "nonce too low",
            Self::InsufficientFunds(_) => "insufficient funds for gas * price + value",
            Self::ReplaceUnderpriced => "replacement transaction underpriced",
            Self::PoolOverflow => "txpool is full",
            Self::FutureReplacePending => "future transaction tries to replace pending",
        }
    }
}

/// By how much a sender cannot pay (geth's details for `insufficient funds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub balance: U256,
    /// The cost of the sender's pending transactions, when they are what tips it over.
    pub queued: Option<U256>,
    pub cost: U256,
    pub overshot: U256,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.queued {
            None => write!(f, "balance {}, tx cost {}, overshot {}", self.balance, self.cost, self.overshot),
            Some(queued) => write!(
                f,
                "balance {}, queued cost {queued}, tx cost {}, overshot {}",
                self.balance, self.cost, self.overshot
            ),
        }
    }
}
