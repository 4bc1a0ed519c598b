//! Workloads: signed transactions from the dev accounts, grouped into blocks that fill ~2/3 of the gas limit.

use crate::{contracts, BenchError};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_evm::RecoveredTx;
use keel_primitives::{DevAccount, DevGenesis};

/// What the transactions of a workload do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// 21000-gas ETH transfers to fresh addresses.
    Transfers,
    /// ERC-20 `transfer`s (OpenZeppelin ERC20) to fresh holders.
    Erc20,
    /// Calls that each write 50 fresh storage slots.
    Storage,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 3] = [WorkloadKind::Transfers, WorkloadKind::Erc20, WorkloadKind::Storage];

    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Transfers => "transfers",
            WorkloadKind::Erc20 => "erc20",
            WorkloadKind::Storage => "storage",
        }
    }

    /// Transactions per block of this workload.
    pub fn transactions_per_block(self) -> usize {
        self.shape().0
    }

    /// (transactions per block, gas limit per transaction)
    fn shape(self) -> (usize, u64) {
        match self {
            WorkloadKind::Transfers => (900, 21_000),
            WorkloadKind::Erc20 => (400, 60_000),
            WorkloadKind::Storage => (15, 1_300_000),
        }
    }
}

impl std::str::FromStr for WorkloadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown workload `{s}` (expected transfers, erc20 or storage)"))
    }
}

/// The transactions of a benchmark: `setup` (contract deployment, token distribution) runs untimed, then
/// `blocks`, one `Vec` per block.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub genesis: DevGenesis,
    pub setup: Vec<Vec<RecoveredTx>>,
    pub blocks: Vec<Vec<RecoveredTx>>,
}

/// Signs EIP-1559 transactions for the dev accounts, tracking nonces.
pub(crate) struct Signers {
    chain_id: u64,
    accounts: Vec<(PrivateKeySigner, Address, u64)>,
}

impl Signers {
    pub(crate) fn new(chain_id: u64, accounts: Vec<DevAccount>) -> Result<Self, BenchError> {
        let accounts = accounts
            .into_iter()
            .map(|a| {
                let signer = PrivateKeySigner::from_bytes(&a.private_key)
                    .map_err(|e| BenchError::Setup(format!("dev key {}: {e}", a.index)))?;
                Ok((signer, a.address, 0))
            })
            .collect::<Result<_, BenchError>>()?;
        Ok(Self { chain_id, accounts })
    }

    pub(crate) fn address(&self, index: usize) -> Address {
        self.accounts[index].1
    }

    pub(crate) fn sign(
        &mut self,
        from: usize,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas_limit: u64,
    ) -> Result<RecoveredTx, BenchError> {
        let (signer, address, nonce) = &mut self.accounts[from];
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: *nonce,
            gas_limit,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        *nonce += 1;
        let signature = signer
            .sign_hash_sync(&tx.signature_hash())
            .map_err(|e| BenchError::Setup(format!("signing: {e}")))?;
        let tx = TxEnvelope::Eip1559(tx.into_signed(signature));
        Ok(RecoveredTx { hash: *tx.tx_hash(), tx, sender: *address })
    }
}

/// A fresh recipient address per index (never a dev account or contract).
fn recipient(i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xbe;
    bytes[12..].copy_from_slice(&(i as u64).to_be_bytes());
    Address::from(bytes)
}

impl Workload {
    /// `blocks` blocks of `kind` on the dev chain.
    pub fn new(kind: WorkloadKind, blocks: usize) -> Result<Self, BenchError> {
        let genesis = DevGenesis::default();
        let accounts = genesis.dev_accounts().map_err(|e| BenchError::Setup(e.to_string()))?;
        let mut signers = Signers::new(genesis.chain_id, accounts)?;
        let senders = signers.accounts.len();
        let (per_block, gas) = kind.shape();
        let mut setup = Vec::new();
        let mut target = None;
        match kind {
            WorkloadKind::Transfers => {}
            WorkloadKind::Erc20 => {
                let deployer = signers.address(0);
                let supply = U256::from(10u64).pow(U256::from(30u64));
                let mut txs = vec![signers.sign(
                    0,
                    TxKind::Create,
                    U256::ZERO,
                    contracts::token_deploy(supply)?,
                    2_000_000,
                )?];
                let token = deployer.create(0);
                // Give every other dev account tokens, so transfers come from all senders.
                for i in 1..senders {
                    let data = contracts::token_transfer(signers.address(i), supply / U256::from(100u64));
                    txs.push(signers.sign(0, TxKind::Call(token), U256::ZERO, data, 100_000)?);
                }
                setup.push(txs);
                target = Some(token);
            }
            WorkloadKind::Storage => {
                let deployer = signers.address(0);
                let tx = signers.sign(
                    0,
                    TxKind::Create,
                    U256::ZERO,
                    contracts::storage_heavy_deploy()?,
                    1_000_000,
                )?;
                setup.push(vec![tx]);
                target = Some(deployer.create(0));
            }
        }
        let mut out = Vec::with_capacity(blocks);
        let mut n = 0usize;
        for _ in 0..blocks {
            let mut txs = Vec::with_capacity(per_block);
            for _ in 0..per_block {
                let from = n % senders;
                let tx = match (kind, target) {
                    (WorkloadKind::Transfers, _) => signers.sign(
                        from,
                        TxKind::Call(recipient(n)),
                        U256::from(1_000u64 + n as u64),
                        Bytes::new(),
                        gas,
                    )?,
                    (WorkloadKind::Erc20, Some(token)) => {
                        let data = contracts::token_transfer(recipient(n), U256::from(1_000u64 + n as u64));
                        signers.sign(from, TxKind::Call(token), U256::ZERO, data, gas)?
                    }
                    (WorkloadKind::Storage, Some(contract)) => {
                        let data = contracts::storage_fill(n as u64 * 50, 50);
                        signers.sign(from, TxKind::Call(contract), U256::ZERO, data, gas)?
                    }
                    (_, None) => return Err(BenchError::Setup("workload has no target contract".into())),
                };
                txs.push(tx);
                n += 1;
            }
            out.push(txs);
        }
        Ok(Self { kind, genesis, setup, blocks: out })
    }
}
