use crate::EvmError;
use alloy_consensus::{transaction::SignerRecoverable, Transaction, TxEnvelope};
use alloy_eips::Typed2718;
use alloy_primitives::{Address, B256};
use revm::context::{either::Either, TxEnv};

/// A signed transaction with its sender recovered and its hash computed, once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTx {
    pub tx: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
}

impl RecoveredTx {
    /// Recovers the sender of `tx`; `index` only names the transaction in the error.
    pub fn recover(tx: TxEnvelope, index: usize) -> Result<Self, EvmError> {
        let hash = *tx.tx_hash();
        let sender = tx.recover_signer().map_err(|e| EvmError::InvalidSignature {
            index,
            hash,
            reason: e.to_string(),
        })?;
        Ok(Self { tx, sender, hash })
    }
}

/// Recovers the senders of a block's transactions.
pub fn recover_transactions(txs: &[TxEnvelope]) -> Result<Vec<RecoveredTx>, EvmError> {
    txs.iter().enumerate().map(|(i, tx)| RecoveredTx::recover(tx.clone(), i)).collect()
}

/// revm's view of a transaction.
pub fn tx_env(tx: &TxEnvelope, sender: Address) -> TxEnv {
    let (gas_price, gas_priority_fee) = match tx.gas_price() {
        // Legacy and EIP-2930: one price.
        Some(price) => (price, None),
        // EIP-1559 and later: revm takes the fee cap as `gas_price` and the tip separately.
        None => (tx.max_fee_per_gas(), Some(tx.max_priority_fee_per_gas().unwrap_or_default())),
    };
    TxEnv {
        tx_type: tx.ty(),
        caller: sender,
        gas_limit: tx.gas_limit(),
        gas_price,
        kind: tx.kind(),
        value: tx.value(),
        data: tx.input().clone(),
        nonce: tx.nonce(),
        chain_id: tx.chain_id(),
        access_list: tx.access_list().cloned().unwrap_or_default(),
        gas_priority_fee,
        blob_hashes: tx.blob_versioned_hashes().map(<[B256]>::to_vec).unwrap_or_default(),
        max_fee_per_blob_gas: tx.max_fee_per_blob_gas().unwrap_or_default(),
        authorization_list: tx
            .authorization_list()
            .map(|list| list.iter().cloned().map(Either::Left).collect())
            .unwrap_or_default(),
    }
}
