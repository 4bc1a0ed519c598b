//! The write-ahead journal: reads through the overlay layers match a plain store under any mix of writes,
//! checkpoints and reopens; a crash keeps every acknowledged batch; torn and corrupt journals are handled.
#![allow(clippy::unwrap_used)]

mod common;

use common::{scan, SharedKv};
use keel_store::{CheckpointPolicy, JournalKv, Kv, MemoryKv, RedbKv, Table, WriteBatch};
use proptest::{collection::vec, prelude::*, sample::select};
use std::{path::Path, sync::Arc, time::Duration};

/// No background checkpoints unless asked for.
const NEVER: CheckpointPolicy = CheckpointPolicy { max_bytes: u64::MAX, max_age: Duration::from_secs(3600) };

fn assert_same(actual: &dyn Kv, model: &dyn Kv, keys: &[Vec<u8>]) {
    let (a, m) = (actual.snapshot().unwrap(), model.snapshot().unwrap());
    for table in [Table::Storage, Table::Accounts] {
        for key in keys {
            assert_eq!(a.get(table, key).unwrap(), m.get(table, key).unwrap(), "{table:?} {key:?}");
        }
        for prefix in [&[][..], &[1][..], &[1, 2][..], &[3][..]] {
            assert_eq!(scan(&*a, table, prefix), scan(&*m, table, prefix), "{table:?} scan {prefix:?}");
        }
    }
    // Early stop: the first entry only.
    let mut first = None;
    a.scan_prefix(Table::Storage, &[], &mut |k, _| {
        first = Some(k.to_vec());
        false
    })
    .unwrap();
    assert_eq!(first, scan(&*m, Table::Storage, &[]).first().map(|(k, _)| k.clone()));
}

#[derive(Debug, Clone)]
enum Step {
    Write(Vec<(bool, bool, Vec<u8>, Vec<u8>)>),
    Checkpoint,
    Reopen,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let key = vec(select(&[1u8, 2, 3][..]), 1..=3);
    let op = (any::<bool>(), any::<bool>(), key, vec(any::<u8>(), 0..=8));
    let step = prop_oneof![
        8 => vec(op, 1..6).prop_map(Step::Write),
        1 => Just(Step::Checkpoint),
        1 => Just(Step::Reopen),
    ];
    vec(step, 1..40)
}

fn all_keys() -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for a in [1u8, 2, 3] {
        keys.push(vec![a]);
        for b in [1u8, 2, 3] {
            keys.push(vec![a, b]);
            for c in [1u8, 2, 3] {
                keys.push(vec![a, b, c]);
            }
        }
    }
    keys
}

fn open(dir: &Path, policy: CheckpointPolicy) -> JournalKv {
    let redb = RedbKv::open(&dir.join("db.redb")).unwrap();
    JournalKv::open(Box::new(redb), &dir.join("test.journal"), policy).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over redb, with a background checkpoint after every couple of hundred bytes, the journal store reads
    /// exactly like a plain in-memory store after every step.
    #[test]
    fn journal_reads_like_a_plain_store(steps in steps()) {
        let dir = tempfile::tempdir().unwrap();
        let policy = CheckpointPolicy { max_bytes: 200, max_age: Duration::from_millis(5) };
        let model = MemoryKv::new();
        let mut kv = Some(open(dir.path(), policy));
        let keys = all_keys();
        for step in steps {
            match step {
                Step::Write(ops) => {
                    let mut batch = WriteBatch::default();
                    for (storage, delete, key, value) in ops {
                        let table = if storage { Table::Storage } else { Table::Accounts };
                        if delete { batch.delete(table, key) } else { batch.put(table, key, value) }
                    }
                    model.write(batch.clone()).unwrap();
                    kv.as_ref().unwrap().write(batch).unwrap();
                }
                Step::Checkpoint => kv.as_ref().unwrap().checkpoint().unwrap(),
                Step::Reopen => {
                    drop(kv.take());
                    kv = Some(open(dir.path(), policy));
                }
            }
            assert_same(kv.as_ref().unwrap(), &model, &keys);
        }
    }
}

fn put(kv: &dyn Kv, key: u8, value: &[u8]) {
    let mut batch = WriteBatch::default();
    batch.put(Table::Accounts, [key], value);
    batch.put(Table::Storage, [key, key], value);
    kv.write(batch).unwrap();
}

fn value(kv: &dyn Kv, key: u8) -> Option<Vec<u8>> {
    kv.snapshot().unwrap().get(Table::Accounts, &[key]).unwrap()
}

#[test]
fn a_crash_keeps_every_acknowledged_batch_and_drops_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.journal");
    let inner = SharedKv::default();
    let kv = JournalKv::open(Box::new(inner.clone()), &path, NEVER).unwrap();
    for i in 0..10u8 {
        put(&kv, i, &[i; 40]);
    }
    // Nothing reached the inner store: all of it is in the journal and the overlay.
    assert_eq!(inner.snapshot().unwrap().get(Table::Accounts, &[3]).unwrap(), None);
    // "kill -9": no final checkpoint.
    std::mem::forget(kv);
    let full = std::fs::read(&path).unwrap();

    let reopened = JournalKv::open(Box::new(inner.clone()), &path, NEVER).unwrap();
    for i in 0..10u8 {
        assert_eq!(value(&reopened, i), Some(vec![i; 40]));
    }
    // Replay wrote it into the inner store and emptied the journal.
    assert_eq!(inner.snapshot().unwrap().get(Table::Accounts, &[9]).unwrap(), Some(vec![9; 40]));
    std::mem::forget(reopened);

    // A write cut short: the last record loses its end. Every earlier batch survives, the torn one is gone.
    let fresh = SharedKv::default();
    std::fs::write(&path, &full[..full.len() - 7]).unwrap();
    let torn = JournalKv::open(Box::new(fresh.clone()), &path, NEVER).unwrap();
    for i in 0..9u8 {
        assert_eq!(value(&torn, i), Some(vec![i; 40]));
    }
    assert_eq!(value(&torn, 9), None);
    // New writes go after the valid prefix and survive another crash.
    put(&torn, 42, b"after");
    std::mem::forget(torn);
    let again = JournalKv::open(Box::new(fresh), &path, NEVER).unwrap();
    assert_eq!(value(&again, 42), Some(b"after".to_vec()));
    assert_eq!(value(&again, 8), Some(vec![8; 40]));
}

#[test]
fn frozen_journal_replays_before_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.journal");
    let kv = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap();
    put(&kv, 1, b"old");
    put(&kv, 2, b"only-old");
    std::mem::forget(kv);
    let older = std::fs::read(&path).unwrap();
    let kv = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap();
    put(&kv, 1, b"new");
    std::mem::forget(kv);
    // As a checkpoint cut short leaves them: the frozen journal holds the older batches.
    std::fs::write(path.with_extension("journal-frozen"), older).unwrap();
    let kv = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap();
    assert_eq!(value(&kv, 1), Some(b"new".to_vec()));
    assert_eq!(value(&kv, 2), Some(b"only-old".to_vec()));
    assert!(!path.with_extension("journal-frozen").exists());
}

#[test]
fn a_corrupt_journal_is_refused_with_its_path_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.journal");
    std::fs::write(&path, b"definitely not a journal").unwrap();
    let err = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap_err().to_string();
    assert!(err.contains("x.journal") && err.contains("not a keel journal"), "{err}");

    // A record whose CRC is right but whose content is not a batch (unknown table 200).
    let mut bytes = b"keel journal v1\n".to_vec();
    let payload = [1u8, 0, 0, 0, 0, 200, 1, 0, 0, 0, 7, 0, 0, 0, 0];
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    std::fs::write(&path, &bytes).unwrap();
    let err = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap_err().to_string();
    assert!(err.contains("record at byte 16") && err.contains("unknown table 200"), "{err}");
}

/// CRC-32 (IEEE), bit by bit: the test's own reference for the journal's checksum.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn background_checkpoints_empty_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.journal");
    let inner = SharedKv::default();
    let policy = CheckpointPolicy { max_bytes: 1024, max_age: Duration::from_millis(20) };
    let kv = JournalKv::open(Box::new(inner.clone()), &path, policy).unwrap();
    for i in 0..100u8 {
        put(&kv, i, &[i; 64]);
    }
    // Within a few ages everything is in the inner store and the journal holds only its header.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while inner.snapshot().unwrap().get(Table::Accounts, &[99]).unwrap().is_none()
        || std::fs::metadata(&path).unwrap().len() > 16
    {
        assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    for i in 0..100u8 {
        assert_eq!(value(&kv, i), Some(vec![i; 64]));
    }
}

/// An encrypted datadir's journal: records are sealed (no plain byte of a batch in the file), replay opens them,
/// a torn tail is still dropped, and an altered, reordered or foreign record is an integrity error.
#[test]
fn sealed_journal_hides_batches_and_detects_tampering() {
    use keel_store::{DbKey, RecordCipher};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.journal");
    let sealer = || Some(Arc::new(RecordCipher::new(&DbKey::from_bytes([7; 32]), "journal")));
    let kv = JournalKv::open_sealed(Box::new(SharedKv::default()), &path, NEVER, sealer()).unwrap();
    for i in 0..10u8 {
        put(&kv, i, b"marker-value-0123456789");
    }
    std::mem::forget(kv);
    let full = std::fs::read(&path).unwrap();
    assert!(full.starts_with(b"keel journal s1\n"));
    assert!(!full.windows(12).any(|w| w == b"marker-value"), "a plain value reached the journal");

    let replay = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        let inner = SharedKv::default();
        JournalKv::open_sealed(Box::new(inner.clone()), &path, NEVER, sealer()).map(|kv| {
            std::mem::forget(kv);
            (0..10u8)
                .filter(|i| inner.snapshot().unwrap().get(Table::Accounts, &[*i]).unwrap().is_some())
                .count()
        })
    };
    assert_eq!(replay(&full).unwrap(), 10);
    assert_eq!(replay(&full[..full.len() - 5]).unwrap(), 9, "torn tail dropped");

    // Records are `len, crc, sealed`: find the first two and tamper with them (recomputing the CRC, as an attacker
    // could).
    let record_at = |at: usize| 8 + u32::from_le_bytes(full[at..at + 4].try_into().unwrap()) as usize;
    let (first, second) = (16, 16 + record_at(16));
    let mut altered = full.clone();
    altered[first + 8 + 30] ^= 1;
    let crc = crc32fast::hash(&altered[first + 8..second]);
    altered[first + 4..first + 8].copy_from_slice(&crc.to_le_bytes());
    let err = replay(&altered).unwrap_err().to_string();
    assert!(err.contains("integrity check failed") && err.contains("record 0"), "{err}");

    // A bad checksum with records after it is not a torn write: refused, not silently cut.
    let mut unfixed = full.clone();
    unfixed[first + 8 + 30] ^= 1;
    let err = replay(&unfixed).unwrap_err().to_string();
    assert!(err.contains("fails its checksum, and records follow it"), "{err}");

    let mut swapped = full[..16].to_vec();
    swapped.extend_from_slice(&full[second..second + record_at(second)]);
    swapped.extend_from_slice(&full[first..second]);
    let err = replay(&swapped).unwrap_err().to_string();
    assert!(err.contains("fails authentication"), "{err}");

    std::fs::write(&path, &full).unwrap();
    let other_key = Some(Arc::new(RecordCipher::new(&DbKey::from_bytes([8; 32]), "journal")));
    let err = JournalKv::open_sealed(Box::new(SharedKv::default()), &path, NEVER, other_key).unwrap_err();
    assert!(err.to_string().contains("fails authentication"), "{err}");
    let err = JournalKv::open(Box::new(SharedKv::default()), &path, NEVER).unwrap_err();
    assert!(err.to_string().contains("needs its key"), "{err}");
}
