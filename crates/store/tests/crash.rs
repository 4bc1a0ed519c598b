//! Crash consistency: a child process commits blocks in a loop and is killed with SIGKILL at an arbitrary
//! moment, several times over the same datadir. After every kill the reopened store must have a committed block
//! as head (at least the last one the child reported as committed), a canonical chain that links up, and a
//! state that recomputes to the head's state root from the stored trie nodes and matches the flat tables.
//!
//! The same runs are made over an encrypted datadir (`keel_store::crypt`), whose commits seal every value.
//!
//! This file is its own test harness (`harness = false`): run without arguments it is the parent; with
//! `KEEL_CRASH_CHILD=<dir>` set it is the child.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_chain_links, commit_child, init_dev, random_changes, Rng};
use keel_store::{CheckpointPolicy, DbKey, OpenOptions, Store};
use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::Duration,
};

const CHILD_ENV: &str = "KEEL_CRASH_CHILD";
const SEED_ENV: &str = "KEEL_CRASH_SEED";
const ENCRYPT_ENV: &str = "KEEL_CRASH_ENCRYPT";

/// The key of the encrypted runs (fixed: the test is about crashes, not keys).
fn test_key() -> DbKey {
    DbKey::from_bytes([0x42; 32])
}

fn open(dir: &std::path::Path, encrypted: bool, checkpoint: CheckpointPolicy) -> Store {
    Store::open_opts(dir, &OpenOptions { checkpoint, key: encrypted.then(test_key) }).unwrap()
}

fn main() {
    match std::env::var(CHILD_ENV) {
        Ok(dir) => child(&dir),
        Err(_) => parent(),
    }
}

/// Commits blocks forever, printing `committed N` after each commit returns.
fn child(dir: &str) {
    // Checkpoint every few blocks, so kills land in checkpoints and journal appends alike.
    let policy = CheckpointPolicy { max_bytes: 64 * 1024, max_age: Duration::from_millis(3) };
    let store = open(std::path::Path::new(dir), std::env::var_os(ENCRYPT_ENV).is_some(), policy);
    let (mut parent, mut parent_hash) = match store.snapshot().unwrap().head().unwrap() {
        Some(head) => (head.inner().clone(), head.hash()),
        None => init_dev(&store),
    };
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let mut rng = Rng(seed | 1);
    let mut stdout = std::io::stdout();
    loop {
        let changes = random_changes(&mut rng, &store, 48);
        (parent, parent_hash) = commit_child(&store, &parent, parent_hash, changes);
        writeln!(stdout, "committed {}", parent.number).unwrap();
        stdout.flush().unwrap();
    }
}

fn parent() {
    let rounds = 10;
    for encrypted in [false, true] {
        kill_rounds(encrypted, rounds);
    }
    println!("test result: ok. crash consistency held over {rounds} kills, plain and encrypted");
}

fn kill_rounds(encrypted: bool, rounds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x00c0_ffee);
    let kind = if encrypted { "encrypted" } else { "plain" };
    for round in 0..rounds {
        let mut command = Command::new(&exe);
        if encrypted {
            command.env(ENCRYPT_ENV, "1");
        }
        let mut child = command
            .env(CHILD_ENV, dir.path())
            .env(SEED_ENV, (round + 1).to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let target = 10 + rng.below(20);
        let mut reported = 0u64;
        let mut seen = 0;
        while seen < target {
            let line = lines.next().expect("child exited early").unwrap();
            reported = line.strip_prefix("committed ").unwrap().parse().unwrap();
            seen += 1;
        }
        // Let it get into the middle of some later commit, then SIGKILL (std's kill is SIGKILL on Unix).
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = open(dir.path(), encrypted, CheckpointPolicy::default());
        let snapshot = store.snapshot().unwrap();
        let head = snapshot.head().unwrap().expect("no head after crash");
        assert!(head.number >= reported, "round {round}: head {} but child reported {reported}", head.number);
        let check = snapshot.check_state(head.state_root).unwrap();
        let linked = assert_chain_links(&store);
        println!(
            "{kind} round {round}: killed after block {reported}; reopened at head {} ({} accounts, {} slots, {linked} blocks linked)",
            head.number, check.accounts, check.storage_slots
        );
    }
}
