//! [`Chain`]: genesis, import and block building on the store's head.

use crate::{DbState, NodeError};
use alloy_consensus::{Block, Header, ReceiptEnvelope, Sealed, TxEnvelope};
use alloy_primitives::B256;
use keel_evm::{
    build_block, execute_recovered_block, BlockAttributes, BlockBuildOutcome, Candidates, ExecutedBlock,
    ImportedBlock, RecoveredTx,
};
use keel_primitives::{BlockBody, ChainSpec};
use keel_store::{BlockCommit, InitOutcome, Store};
use rayon::prelude::*;
use std::sync::Arc;
use tracing::info;

/// A chain in a store: the spec it follows and the blocks it has.
#[derive(Debug)]
pub struct Chain {
    spec: ChainSpec,
    store: Arc<Store>,
}

impl Chain {
    /// Opens the chain in `store`, writing the genesis block of `spec` if the store is empty (and refusing a store
    /// that holds another chain).
    pub fn open(spec: ChainSpec, store: Store) -> Result<Self, NodeError> {
        let genesis = keel_evm::genesis_state(&spec)?;
        let body = BlockBody {
            transactions: Vec::new(),
            ommers: Vec::new(),
            withdrawals: genesis.header.withdrawals_root.map(|_| Default::default()),
        };
        let commit = BlockCommit {
            header: &genesis.header,
            hash: genesis.hash,
            body: &body,
            senders: &[],
            receipts: &[],
            changes: &genesis.changes,
            trie_nodes: &genesis.trie_nodes,
        };
        match store.init(spec.spec_hash(), commit)? {
            InitOutcome::Created => {
                info!(genesis = %genesis.hash, accounts = genesis.changes.accounts.len(), "datadir initialised")
            }
            InitOutcome::Existing { head_hash, head_number } => {
                info!(number = head_number, hash = %head_hash, "datadir opened")
            }
        }
        Ok(Self { spec, store: Arc::new(store) })
    }

    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A shared handle on the store, for readers that outlive a borrow of the chain (the pool's head state).
    pub fn store_handle(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The head block's header.
    pub fn head(&self) -> Result<Sealed<Header>, NodeError> {
        let snapshot = self.store.snapshot()?;
        Ok(snapshot.require_head()?)
    }

    /// The head state, for execution of a child of the head (and for reads at the head).
    pub fn head_state(&self) -> Result<(Sealed<Header>, DbState), NodeError> {
        let snapshot = self.store.snapshot()?;
        let head = snapshot.require_head()?;
        Ok((head, DbState::new(snapshot)))
    }

    /// Imports `block`, which must be a child of the head: executes it, checks every header field against the
    /// result, and commits it as the new head.
    pub fn import(&self, block: &Block<TxEnvelope>) -> Result<ImportedBlock, NodeError> {
        let (head, state) = self.head_state()?;
        if block.header.parent_hash != head.hash() {
            return Err(NodeError::NotOnHead {
                number: block.header.number,
                hash: block.header.hash_slow(),
                parent: block.header.parent_hash,
                head: head.hash(),
            });
        }
        // Sender recovery is the costliest step for simple transactions; it is independent per transaction.
        let txs: Vec<RecoveredTx> = block
            .body
            .transactions
            .par_iter()
            .enumerate()
            .map(|(index, tx)| RecoveredTx::recover(tx.clone(), index))
            .collect::<Result<_, _>>()?;
        let imported = execute_recovered_block(&self.spec, head.inner(), block, &txs, state)?;
        self.commit(&block.header, imported.hash, &block.body, &imported.senders, &imported.executed)?;
        Ok(imported)
    }

    /// Builds a block on the head from `candidates` (in order; those that cannot be included are reported in
    /// the outcome) and commits it as the new head.
    pub fn build(
        &self,
        attributes: &BlockAttributes,
        candidates: &mut dyn Candidates,
    ) -> Result<BlockBuildOutcome, NodeError> {
        let (head, state) = self.head_state()?;
        let outcome = build_block(&self.spec, head.inner(), attributes, candidates, state)?;
        self.commit(
            &outcome.block.header,
            outcome.hash,
            &outcome.block.body,
            &outcome.senders,
            &outcome.executed,
        )?;
        Ok(outcome)
    }

    fn commit(
        &self,
        header: &Header,
        hash: B256,
        body: &BlockBody<TxEnvelope>,
        senders: &[alloy_primitives::Address],
        executed: &ExecutedBlock,
    ) -> Result<(), NodeError> {
        let receipts: Vec<ReceiptEnvelope> = executed.receipts.iter().map(|r| r.envelope()).collect();
        self.store.commit_block(BlockCommit {
            header,
            hash,
            body,
            senders,
            receipts: &receipts,
            changes: &executed.changes,
            trie_nodes: &executed.trie_nodes,
        })?;
        Ok(())
    }
}
