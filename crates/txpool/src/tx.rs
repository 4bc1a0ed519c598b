//! [`PoolTx`]: a transaction as the pool sees it (prices, cost, size), and the stateless checks that run before
//! the pool's lock is taken.

use crate::{config::TX_MAX_SIZE, config::TX_SLOT_SIZE, PoolError};
use alloy_consensus::{Transaction, TxEnvelope, Typed2718};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, U256};
use keel_evm::RecoveredTx;
use revm::primitives::hardfork::SpecId;
use std::sync::Arc;

/// A validated transaction with the figures the pool orders and limits by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTx {
    pub tx: RecoveredTx,
    pub nonce: u64,
    pub gas: u64,
    /// Max fee per gas (the gas price for legacy and EIP-2930 transactions).
    pub fee_cap: u128,
    /// Max priority fee per gas (the gas price for legacy and EIP-2930 transactions).
    pub tip_cap: u128,
    /// gas × fee cap + value: what the sender must be able to pay.
    pub cost: U256,
    /// Encoded (EIP-2718) size in bytes.
    pub size: usize,
    /// When the pool first saw it (a sequence number): breaks ties between equal tips in block building.
    pub seen: u64,
}

impl PoolTx {
    /// Figures of an already recovered transaction (no checks).
    pub fn new(tx: RecoveredTx) -> Self {
        let fee_cap = tx.tx.max_fee_per_gas();
        let tip_cap = tx.tx.max_priority_fee_per_gas().unwrap_or(fee_cap);
        let gas = tx.tx.gas_limit();
        let cost = U256::from(gas) * U256::from(fee_cap) + tx.tx.value();
        Self { nonce: tx.tx.nonce(), gas, fee_cap, tip_cap, cost, size: tx.tx.encode_2718_len(), seen: 0, tx }
    }

    pub fn hash(&self) -> B256 {
        self.tx.hash
    }

    pub fn sender(&self) -> Address {
        self.tx.sender
    }

    /// Capacity the transaction takes, in 32 KiB slots.
    pub fn slots(&self) -> usize {
        self.size.div_ceil(TX_SLOT_SIZE)
    }

    /// min(tip cap, fee cap − base fee); negative when the fee cap is below the base fee.
    pub fn effective_tip(&self, base_fee: u64) -> i128 {
        let cap = |v: u128| v.min(i128::MAX as u128) as i128;
        (cap(self.fee_cap) - i128::from(base_fee)).min(cap(self.tip_cap))
    }
}

/// A pooled transaction, shared between the pool's indexes.
pub type PooledTx = Arc<PoolTx>;

/// The checks that need no state, in geth's order. Cheap to clone; run it outside the pool's lock (and in
/// parallel for batches).
#[derive(Debug, Clone)]
pub struct Validator {
    pub chain_id: u64,
    pub spec: SpecId,
    /// The head block's gas limit.
    pub gas_limit: u64,
    /// The minimum tip (`--txpool.pricelimit`).
    pub min_tip: u128,
}

impl Validator {
    /// Checks a signed transaction and recovers its sender.
    pub fn validate(&self, tx: TxEnvelope) -> Result<PoolTx, PoolError> {
        self.check_unsigned(&tx)?;
        if let Some(id) = tx.chain_id() {
            if id != self.chain_id {
                return Err(PoolError::InvalidSender);
            }
        }
        // alloy's recovery refuses high-s signatures (EIP-2) and bad points.
        let recovered = RecoveredTx::recover(tx, 0).map_err(|_| PoolError::InvalidSender)?;
        self.check_recovered(PoolTx::new(recovered))
    }

    /// Checks a transaction whose sender is known (eth_sendTransaction, impersonation, reinjection).
    pub fn validate_recovered(&self, tx: RecoveredTx) -> Result<PoolTx, PoolError> {
        self.check_unsigned(&tx.tx)?;
        if tx.tx.chain_id().is_some_and(|id| id != self.chain_id) {
            return Err(PoolError::InvalidSender);
        }
        self.check_recovered(PoolTx::new(tx))
    }

    fn check_unsigned(&self, tx: &TxEnvelope) -> Result<(), PoolError> {
        let ty = tx.ty();
        let supported = match tx {
            TxEnvelope::Legacy(_) => true,
            TxEnvelope::Eip2930(_) => self.spec.is_enabled_in(SpecId::BERLIN),
            TxEnvelope::Eip1559(_) => self.spec.is_enabled_in(SpecId::LONDON),
            TxEnvelope::Eip7702(_) => self.spec.is_enabled_in(SpecId::PRAGUE),
            // Blob transactions need sidecars and their own pool.
            TxEnvelope::Eip4844(_) => false,
        };
        if !supported {
            return Err(PoolError::TypeNotSupported(ty));
        }
        let size = tx.encode_2718_len();
        if size > TX_MAX_SIZE {
            return Err(PoolError::OversizedData { size, limit: TX_MAX_SIZE });
        }
        if self.spec.is_enabled_in(SpecId::SHANGHAI) && tx.kind().is_create() {
            let limit = revm::primitives::eip3860::MAX_INITCODE_SIZE;
            if tx.input().len() > limit {
                return Err(PoolError::MaxInitCodeSizeExceeded { size: tx.input().len(), limit });
            }
        }
        if tx.gas_limit() > self.gas_limit {
            return Err(PoolError::GasLimit);
        }
        // EIP-7825 (Osaka): 2^24 gas per transaction at most.
        const MAX_TX_GAS: u64 = 1 << 24;
        if self.spec.is_enabled_in(SpecId::OSAKA) && tx.gas_limit() > MAX_TX_GAS {
            return Err(PoolError::GasLimitTooHigh { cap: MAX_TX_GAS, gas: tx.gas_limit() });
        }
        if tx.max_priority_fee_per_gas().is_some_and(|tip| tip > tx.max_fee_per_gas()) {
            return Err(PoolError::TipAboveFeeCap);
        }
        Ok(())
    }

    fn check_recovered(&self, tx: PoolTx) -> Result<PoolTx, PoolError> {
        if tx.nonce == u64::MAX {
            return Err(PoolError::NonceMax);
        }
        let envelope = &tx.tx.tx;
        let access_list = envelope.access_list();
        let (accounts, slots) = access_list.map_or((0, 0), |list| {
            (list.len() as u64, list.iter().map(|item| item.storage_keys.len() as u64).sum())
        });
        let authorizations = envelope.authorization_list().map_or(0, |a| a.len() as u64);
        let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas(
            self.spec,
            envelope.input(),
            envelope.kind().is_create(),
            accounts,
            slots,
            authorizations,
            None,
        );
        if tx.gas < gas.initial_total_gas() {
            return Err(PoolError::IntrinsicGas { gas: tx.gas, needed: gas.initial_total_gas() });
        }
        if self.spec.is_enabled_in(SpecId::PRAGUE) && tx.gas < gas.floor_gas {
            return Err(PoolError::FloorDataGas { gas: tx.gas, needed: gas.floor_gas });
        }
        if tx.tip_cap < self.min_tip {
            return Err(PoolError::TipTooLow { tip: tx.tip_cap, min: self.min_tip });
        }
        Ok(tx)
    }
}
