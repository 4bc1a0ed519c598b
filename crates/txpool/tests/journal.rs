//! The local-transaction journal (geth's journal tests): what is inserted loads back in order, a rotation keeps
//! exactly the given set, a corrupt or truncated tail is tolerated, and a missing file is an empty journal.
#![allow(clippy::unwrap_used)]

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_txpool::{LocalTracker, TxJournal};

fn key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(U256::from(7))).unwrap()
}

/// Alternating legacy and EIP-1559 transactions (a list and a string in the RLP stream).
fn tx(nonce: u64) -> TxEnvelope {
    let key = key();
    if nonce.is_multiple_of(2) {
        let tx = TxLegacy {
            chain_id: Some(1),
            nonce,
            gas_price: 1,
            gas_limit: 21_000,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(nonce),
            input: Bytes::new(),
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::Legacy(tx.into_signed(sig))
    } else {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 2,
            max_priority_fee_per_gas: 1,
            to: TxKind::Call(Address::ZERO),
            value: U256::from(nonce),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        TxEnvelope::Eip1559(tx.into_signed(sig))
    }
}

#[test]
fn inserted_transactions_load_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut journal = TxJournal::new(dir.path().join("transactions.rlp"));
    assert!(journal.load().unwrap().is_empty(), "a missing journal is empty");
    let txs: Vec<TxEnvelope> = (0..6).map(tx).collect();
    for t in &txs {
        journal.insert(t).unwrap();
    }
    assert_eq!(journal.load().unwrap(), txs);
}

#[test]
fn rotation_keeps_exactly_the_given_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transactions.rlp");
    let mut journal = TxJournal::new(&path);
    for n in 0..6 {
        journal.insert(&tx(n)).unwrap();
    }
    let kept: Vec<TxEnvelope> = (3..6).map(tx).collect();
    assert_eq!(journal.rotate(kept.iter()).unwrap(), 3);
    assert_eq!(journal.load().unwrap(), kept);
    assert!(!path.with_extension("new").exists(), "the temporary file was renamed over the journal");
    // Appends after a rotation go to the new file.
    journal.insert(&tx(6)).unwrap();
    assert_eq!(journal.load().unwrap().len(), 4);
}

#[test]
fn a_corrupt_tail_keeps_what_precedes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transactions.rlp");
    let mut journal = TxJournal::new(&path);
    for n in 0..4 {
        journal.insert(&tx(n)).unwrap();
    }
    let full = std::fs::read(&path).unwrap();
    // Cut in the middle of the last transaction: three survive.
    std::fs::write(&path, &full[..full.len() - 10]).unwrap();
    assert_eq!(journal.load().unwrap(), (0..3).map(tx).collect::<Vec<_>>());
    // Garbage appended after valid entries: the valid ones survive.
    let mut garbage = full.clone();
    garbage.extend_from_slice(&[0xff, 0x00, 0x13, 0x37]);
    std::fs::write(&path, &garbage).unwrap();
    assert_eq!(journal.load().unwrap(), (0..4).map(tx).collect::<Vec<_>>());
}

#[test]
fn tracker_replaces_by_nonce_and_prunes_mined() {
    let mut locals = LocalTracker::default();
    let sender = key().address();
    for n in 0..4 {
        locals.track(sender, tx(n));
    }
    assert_eq!(locals.len(), 4);
    // A replacement for nonce 1.
    let replacement = {
        let t = TxEip1559 {
            chain_id: 1,
            nonce: 1,
            gas_limit: 21_000,
            max_fee_per_gas: 5,
            max_priority_fee_per_gas: 5,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let sig = key().sign_hash_sync(&t.signature_hash()).unwrap();
        TxEnvelope::Eip1559(t.into_signed(sig))
    };
    locals.track(sender, replacement.clone());
    assert_eq!(locals.len(), 4);
    assert!(locals.contains(replacement.tx_hash()) && !locals.contains(tx(1).tx_hash()));
    // The chain passed nonce 2: nonces 0 and 1 are forgotten.
    assert_eq!(locals.prune(|_| 2), 2);
    let left: Vec<u64> = locals.all().map(|(_, t)| alloy_consensus::Transaction::nonce(t)).collect();
    assert_eq!(left, vec![2, 3]);
}

/// A stand-in sealer: XOR with a key byte and a 4-byte tag over the plaintext (the real one is the store's
/// AEAD); enough to see the format, that nothing plain reaches the file, and that a bad record ends the load.
#[derive(Debug)]
struct XorSealer(u8);

impl XorSealer {
    fn tag(&self, plain: &[u8]) -> [u8; 4] {
        let sum = plain.iter().fold(self.0 as u32, |acc, b| acc.wrapping_mul(31).wrapping_add(*b as u32));
        sum.to_le_bytes()
    }
}

impl keel_txpool::RecordSealer for XorSealer {
    fn seal(&self, record: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = record.iter().map(|b| b ^ self.0).collect();
        out.extend_from_slice(&self.tag(record));
        out
    }
    fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (body, tag) = sealed.split_at(sealed.len().checked_sub(4)?);
        let plain: Vec<u8> = body.iter().map(|b| b ^ self.0).collect();
        (self.tag(&plain) == tag).then_some(plain)
    }
}

#[test]
fn sealed_journal_loads_back_and_stops_at_a_bad_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transactions.rlp");
    let sealer = std::sync::Arc::new(XorSealer(0x5a));
    let mut journal = TxJournal::sealed(&path, sealer.clone());
    assert!(journal.load().unwrap().is_empty());
    let txs: Vec<TxEnvelope> = (0..4).map(tx).collect();
    for t in &txs {
        journal.insert(t).unwrap();
    }
    assert_eq!(journal.load().unwrap(), txs);
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"keel sealed txs v1\n"));
    let plain = alloy_rlp::encode(&txs[1]);
    assert!(
        !bytes.windows(plain.len()).any(|w| w == plain.as_slice()),
        "a plain transaction reached the file"
    );

    // Rotation keeps the format; a plain journal reader sees nothing it can use, and vice versa.
    assert_eq!(journal.rotate(&txs[..2]).unwrap(), 2);
    assert_eq!(TxJournal::sealed(&path, sealer.clone()).load().unwrap(), txs[..2].to_vec());
    assert!(TxJournal::new(&path).load().unwrap().is_empty());
    let err = TxJournal::sealed(dir.path().join("plain.rlp"), sealer.clone());
    std::fs::write(err.path(), alloy_rlp::encode(&txs[0])).unwrap();
    assert!(err.load().unwrap_err().to_string().contains("not a sealed journal"));

    // An altered second record: the first is kept, the rest dropped.
    let mut bytes = std::fs::read(&path).unwrap();
    let first_len = u32::from_le_bytes(bytes[19..23].try_into().unwrap()) as usize;
    let second = 19 + 4 + first_len;
    bytes[second + 10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(TxJournal::sealed(&path, sealer).load().unwrap(), txs[..1].to_vec());
}
