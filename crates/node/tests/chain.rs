//! A chain built by keel's builder is imported, block for block, by a second chain in another datadir; both
//! agree on every hash, and the datadir reopens at the same head with a state that checks out.
#![allow(clippy::unwrap_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_evm::{BlockAttributes, InOrder, RecoveredTx};
use keel_node::{Chain, NodeError};
use keel_primitives::DevGenesis;
use keel_store::Store;

fn transfers(nonce_base: u64, count: u64) -> Vec<RecoveredTx> {
    let genesis = DevGenesis::default();
    let accounts = genesis.dev_accounts().unwrap();
    (0..count)
        .map(|i| {
            let account = &accounts[(i % 3) as usize];
            let signer = PrivateKeySigner::from_bytes(&account.private_key).unwrap();
            let tx = TxEip1559 {
                chain_id: genesis.chain_id,
                nonce: nonce_base + i / 3,
                gas_limit: 21_000,
                max_fee_per_gas: 10_000_000_000,
                max_priority_fee_per_gas: 1,
                to: TxKind::Call(Address::repeat_byte(i as u8 + 1)),
                value: U256::from(1_000 + i),
                ..Default::default()
            };
            let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
            RecoveredTx::recover(TxEnvelope::Eip1559(tx.into_signed(sig)), i as usize).unwrap()
        })
        .collect()
}

fn attributes(chain: &Chain) -> BlockAttributes {
    let head = chain.head().unwrap();
    BlockAttributes {
        timestamp: head.timestamp + 1,
        gas_limit: head.gas_limit,
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    }
}

#[test]
fn built_blocks_import_elsewhere_and_survive_reopen() {
    let spec = DevGenesis::default().chain_spec().unwrap();
    let builder = Chain::open(spec.clone(), Store::memory()).unwrap();
    let mut blocks = Vec::new();
    for round in 0..5 {
        let outcome =
            builder.build(&attributes(&builder), &mut InOrder(transfers(round * 2, 6).into_iter())).unwrap();
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        assert_eq!(outcome.block.body.transactions.len(), 6);
        blocks.push((outcome.block, outcome.hash));
    }

    let dir = tempfile::tempdir().unwrap();
    {
        let importer = Chain::open(spec.clone(), Store::open(dir.path()).unwrap()).unwrap();
        assert_eq!(
            importer.head().unwrap().hash(),
            builder.store().snapshot().unwrap().genesis_hash().unwrap().unwrap()
        );
        for (block, hash) in &blocks {
            let imported = importer.import(block).unwrap();
            assert_eq!(imported.hash, *hash);
        }
    }
    let reopened = Chain::open(spec, Store::open(dir.path()).unwrap()).unwrap();
    let head = reopened.head().unwrap();
    assert_eq!(head.hash(), blocks.last().unwrap().1);
    assert_eq!(head.number, 5);
    let snapshot = reopened.store().snapshot().unwrap();
    snapshot.check_state(head.state_root).unwrap();
    // Transactions and receipts are found by hash.
    let tx = &blocks[2].0.body.transactions[4];
    let location = snapshot.tx_location(*tx.tx_hash()).unwrap().unwrap();
    assert_eq!((location.block_hash, location.index), (blocks[2].1, 4));
    let receipts = snapshot.receipts(blocks[2].1).unwrap().unwrap();
    assert_eq!(receipts.len(), 6);
    assert_eq!(snapshot.account(Address::repeat_byte(5)).unwrap().unwrap().balance, U256::from(1_004 * 5));
}

#[test]
fn block_not_on_head_and_tampered_block_are_refused_without_changing_head() {
    let spec = DevGenesis::default().chain_spec().unwrap();
    let builder = Chain::open(spec.clone(), Store::memory()).unwrap();
    let first =
        builder.build(&attributes(&builder), &mut InOrder(transfers(0, 3).into_iter())).unwrap().block;
    let second =
        builder.build(&attributes(&builder), &mut InOrder(transfers(1, 3).into_iter())).unwrap().block;

    let importer = Chain::open(spec, Store::memory()).unwrap();
    let genesis = importer.head().unwrap().hash();
    match importer.import(&second) {
        Err(NodeError::NotOnHead { head, .. }) => assert_eq!(head, genesis),
        other => panic!("{other:?}"),
    }
    let mut tampered = first.clone();
    tampered.header.gas_used += 1;
    let err = importer.import(&tampered).unwrap_err().to_string();
    assert!(err.contains("gasUsed"), "{err}");
    assert_eq!(importer.head().unwrap().hash(), genesis);
    importer.import(&first).unwrap();
    importer.import(&second).unwrap();
}
