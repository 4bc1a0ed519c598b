use crate::{
    ordered_trie_root, BlockExecutor, EvmError, ExecutedBlock, ExecutionConfig, RecoveredTx, StateProvider,
    TxOutcome,
};
use alloy_consensus::{proofs::calculate_withdrawals_root, Block, BlockBody, Header, TxEnvelope};
use alloy_eips::{eip2718::Encodable2718, eip4895::Withdrawals};
use alloy_primitives::{Address, B256};
use keel_primitives::{ChainSpec, Hardfork};

/// A block that was imported: its hash, recovered senders and execution output.
#[derive(Debug, Clone)]
pub struct ImportedBlock {
    pub hash: B256,
    pub senders: Vec<Address>,
    pub executed: ExecutedBlock,
}

fn check<T: PartialEq + std::fmt::Debug>(field: &'static str, expected: T, got: T) -> Result<(), EvmError> {
    if expected == got {
        Ok(())
    } else {
        Err(EvmError::HeaderMismatch { field, expected: format!("{expected:?}"), got: format!("{got:?}") })
    }
}

/// Checks the header fields that follow from the parent alone (EIP-1559 base fee, EIP-4844 excess blob gas,
/// number, timestamp, gas limit bounds).
pub fn validate_header_against_parent(
    spec: &ChainSpec,
    parent: &Header,
    header: &Header,
) -> Result<(), EvmError> {
    check("number", parent.number + 1, header.number)?;
    check("parentHash", parent.hash_slow(), header.parent_hash)?;
    if header.timestamp <= parent.timestamp {
        return Err(EvmError::InvalidBlock(format!(
            "timestamp {} is not after the parent's {}",
            header.timestamp, parent.timestamp
        )));
    }
    let fork = spec.fork_at(header.number, header.timestamp);
    if fork >= Hardfork::London {
        check("baseFeePerGas", Some(next_base_fee(spec, parent)), header.base_fee_per_gas)?;
    }
    if fork >= Hardfork::Cancun {
        let params = crate::blob_params(fork);
        let expected = params.map(|p| next_excess_blob_gas(parent, p));
        check("excessBlobGas", expected, header.excess_blob_gas)?;
    }
    Ok(())
}

/// EIP-1559 base fee of a child of `parent` (the first London block starts at 1 gwei).
pub fn next_base_fee(spec: &ChainSpec, parent: &Header) -> u64 {
    if !spec.is_active(Hardfork::London, parent.number, parent.timestamp) {
        return keel_primitives::INITIAL_BASE_FEE;
    }
    alloy_eips::eip1559::calc_next_block_base_fee(
        parent.gas_used,
        parent.gas_limit,
        parent.base_fee_per_gas.unwrap_or_default(),
        alloy_eips::eip1559::BaseFeeParams::ethereum(),
    )
}

/// EIP-4844 excess blob gas of a child of `parent` (with EIP-7918's reserve price from Osaka; the params of
/// earlier forks have no blob base cost, which reduces this to the original formula).
pub fn next_excess_blob_gas(parent: &Header, params: crate::BlobParams) -> u64 {
    params.next_block_excess_blob_gas_osaka(
        parent.excess_blob_gas.unwrap_or(0),
        parent.blob_gas_used.unwrap_or(0),
        parent.base_fee_per_gas.unwrap_or_default(),
    )
}

/// Imports `block` on top of `parent`: recovers senders, executes everything, and checks every root and field of
/// the header against what execution computed. `provider` serves the parent's state.
pub fn execute_block<P: StateProvider>(
    spec: &ChainSpec,
    parent: &Header,
    block: &Block<TxEnvelope>,
    provider: P,
) -> Result<ImportedBlock, EvmError> {
    let txs = crate::recover_transactions(&block.body.transactions)?;
    execute_recovered_block(spec, parent, block, &txs, provider)
}

/// [`execute_block`] with the senders already recovered (`txs[i]` is `block.body.transactions[i]` with its
/// sender): lets a caller with threads recover signatures in parallel. Everything else is checked here.
pub fn execute_recovered_block<P: StateProvider>(
    spec: &ChainSpec,
    parent: &Header,
    block: &Block<TxEnvelope>,
    txs: &[RecoveredTx],
    provider: P,
) -> Result<ImportedBlock, EvmError> {
    let header = &block.header;
    if txs.len() != block.body.transactions.len()
        || txs.iter().zip(&block.body.transactions).any(|(r, t)| r.hash != *t.tx_hash())
    {
        return Err(EvmError::InvalidBlock("recovered transactions do not match the block body".into()));
    }
    validate_header_against_parent(spec, parent, header)?;
    let config = ExecutionConfig::for_header(spec, header);
    check(
        "transactionsRoot",
        header.transactions_root,
        ordered_trie_root(block.body.transactions.iter().map(|t| t.encoded_2718()))?,
    )?;
    let mut executor = BlockExecutor::new(config.clone(), header, provider)?;
    executor.apply_pre_block_calls()?;
    for (index, tx) in txs.iter().enumerate() {
        if let TxOutcome::Rejected { reason } = executor.execute_transaction(tx)? {
            return Err(EvmError::InvalidTransaction { index, hash: tx.hash, reason });
        }
    }
    if config.fork >= Hardfork::Shanghai {
        let withdrawals: &[alloy_eips::eip4895::Withdrawal] =
            block.body.withdrawals.as_deref().map_or(&[], |w| w);
        check("withdrawalsRoot", header.withdrawals_root, Some(calculate_withdrawals_root(withdrawals)))?;
        executor.apply_withdrawals(withdrawals)?;
    }
    let requests = if config.fork >= Hardfork::Prague {
        Some(executor.apply_post_block_calls(spec.genesis().config.deposit_contract_address)?)
    } else {
        None
    };
    let executed = executor.finish(parent.state_root, requests)?;
    check("gasUsed", header.gas_used, executed.gas_used)?;
    if config.fork >= Hardfork::Cancun {
        check("blobGasUsed", header.blob_gas_used, Some(executed.blob_gas_used))?;
    }
    check("receiptsRoot", header.receipts_root, executed.receipts_root)?;
    check("logsBloom", header.logs_bloom, executed.logs_bloom)?;
    check("requestsHash", header.requests_hash, executed.requests_hash)?;
    check("stateRoot", header.state_root, executed.state_root)?;
    Ok(ImportedBlock { hash: header.hash_slow(), senders: txs.iter().map(|t| t.sender).collect(), executed })
}

/// What a block builder produced: the sealed block, its hash, what it executed, and the candidates it left out
/// with the reason.
#[derive(Debug, Clone)]
pub struct BlockBuildOutcome {
    pub block: Block<TxEnvelope>,
    pub hash: B256,
    pub senders: Vec<Address>,
    pub executed: ExecutedBlock,
    pub rejected: Vec<(B256, String)>,
}

/// The fields of a new block the builder does not derive from its parent.
#[derive(Debug, Clone, Default)]
pub struct BlockAttributes {
    pub timestamp: u64,
    pub beneficiary: Address,
    pub gas_limit: u64,
    pub prev_randao: B256,
    pub extra_data: alloy_primitives::Bytes,
    pub parent_beacon_block_root: Option<B256>,
    pub withdrawals: Vec<alloy_eips::eip4895::Withdrawal>,
    /// State overwrites applied before the transactions (a dev node's cheat codes). A block built with patches
    /// cannot be re-executed from its transactions alone: no other client, nor keel's own import or proof client,
    /// will accept it. Leave empty for real chains.
    pub patches: Vec<crate::StatePatch>,
}

/// An overwrite of one account's state (`anvil_setBalance`, `anvil_setNonce`, `anvil_setCode`,
/// `anvil_setStorageAt`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatePatch {
    pub address: Address,
    pub balance: Option<alloy_primitives::U256>,
    pub nonce: Option<u64>,
    pub code: Option<alloy_primitives::Bytes>,
    /// Slot → value.
    pub storage: Vec<(alloy_primitives::U256, alloy_primitives::U256)>,
}

/// Where a block builder takes its transactions from.
pub trait Candidates {
    /// The next transaction to try.
    fn next_candidate(&mut self) -> Option<RecoveredTx>;
    /// The transaction last returned could not be included: its sender's later transactions must not be
    /// either (they would run out of nonce order).
    fn rejected(&mut self, _tx: &RecoveredTx) {}
}

/// Candidates from a plain sequence, tried in order.
#[derive(Debug)]
pub struct InOrder<I>(pub I);

impl<I: Iterator<Item = RecoveredTx>> Candidates for InOrder<I> {
    fn next_candidate(&mut self) -> Option<RecoveredTx> {
        self.0.next()
    }
}

/// Builds a block on `parent` from `candidates`, skipping those that cannot be included (and telling the
/// source, so it skips their senders' later ones). Blob transactions are refused: keel carries no blob
/// sidecars, so it cannot propagate or serve them.
pub fn build_block<P: StateProvider>(
    spec: &ChainSpec,
    parent: &Header,
    attributes: &BlockAttributes,
    candidates: &mut dyn Candidates,
    provider: P,
) -> Result<BlockBuildOutcome, EvmError> {
    let number = parent.number + 1;
    let fork = spec.fork_at(number, attributes.timestamp);
    let mut header = Header {
        parent_hash: parent.hash_slow(),
        ommers_hash: alloy_consensus::constants::EMPTY_OMMER_ROOT_HASH,
        beneficiary: attributes.beneficiary,
        number,
        gas_limit: attributes.gas_limit,
        timestamp: attributes.timestamp,
        extra_data: attributes.extra_data.clone(),
        mix_hash: attributes.prev_randao,
        difficulty: alloy_primitives::U256::ZERO,
        ..Default::default()
    };
    if fork >= Hardfork::London {
        header.base_fee_per_gas = Some(next_base_fee(spec, parent));
    }
    if fork >= Hardfork::Cancun {
        header.parent_beacon_block_root = Some(attributes.parent_beacon_block_root.unwrap_or_default());
        header.excess_blob_gas = crate::blob_params(fork).map(|p| next_excess_blob_gas(parent, p));
    }
    let config = ExecutionConfig { chain_id: spec.chain_id(), fork, policy: spec.policy().cloned() };
    let mut executor = BlockExecutor::new(config, &header, provider)?;
    executor.apply_pre_block_calls()?;
    for patch in &attributes.patches {
        executor.apply_patch(patch)?;
    }
    let mut included = Vec::new();
    let mut rejected = Vec::new();
    while let Some(tx) = candidates.next_candidate() {
        if tx.tx.is_eip4844() {
            candidates.rejected(&tx);
            rejected
                .push((tx.hash, "blob transactions are not supported: keel carries no blob sidecars".into()));
            continue;
        }
        match executor.execute_transaction(&tx)? {
            TxOutcome::Included { .. } => included.push(tx),
            TxOutcome::Rejected { reason } => {
                candidates.rejected(&tx);
                rejected.push((tx.hash, reason));
            }
        }
    }
    let withdrawals = (fork >= Hardfork::Shanghai).then(|| attributes.withdrawals.clone());
    if let Some(w) = &withdrawals {
        executor.apply_withdrawals(w)?;
        header.withdrawals_root = Some(calculate_withdrawals_root(w));
    }
    let requests = if fork >= Hardfork::Prague {
        Some(executor.apply_post_block_calls(spec.genesis().config.deposit_contract_address)?)
    } else {
        None
    };
    let executed = executor.finish(parent.state_root, requests)?;
    let transactions: Vec<TxEnvelope> = included.iter().map(|t| t.tx.clone()).collect();
    header.transactions_root = ordered_trie_root(transactions.iter().map(|t| t.encoded_2718()))?;
    header.receipts_root = executed.receipts_root;
    header.logs_bloom = executed.logs_bloom;
    header.state_root = executed.state_root;
    header.gas_used = executed.gas_used;
    header.requests_hash = executed.requests_hash;
    if fork >= Hardfork::Cancun {
        header.blob_gas_used = Some(executed.blob_gas_used);
    }
    let hash = header.hash_slow();
    let block = Block {
        header,
        body: BlockBody { transactions, ommers: Vec::new(), withdrawals: withdrawals.map(Withdrawals::new) },
    };
    Ok(BlockBuildOutcome {
        block,
        hash,
        senders: included.iter().map(|t| t.sender).collect(),
        executed,
        rejected,
    })
}
