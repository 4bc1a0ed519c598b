//! `keel bench-proof`: the fault-proof program on blocks of ETH and ERC-20 transfers — stateful import vs the
//! client in-process over an in-memory oracle vs `keel prove` (host and client processes over pipes) — and the
//! oracle's round trip against a bare pipe ping-pong of the same sizes.

use crate::{BenchError, Workload, WorkloadKind};
use keel_node::Chain;
use keel_preimage::{serve_preimages, Hint, Limits, OracleClient, PreimageError, PreimageKey};
use keel_proof::{run_client, DatadirHost, LoopbackOracle, Oracle, Verdict};
use keel_store::Store;
use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::Path,
    time::{Duration, Instant},
};

/// Per-block times of the three ways, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProofReport {
    pub workload: &'static str,
    pub blocks: usize,
    pub transactions_per_block: usize,
    pub import_ms: f64,
    pub stateless_ms: f64,
    pub prove_ms: f64,
    pub preimages_per_block: f64,
}

/// An in-memory oracle (values still checked against their keys).
struct MemoryOracle<'m>(&'m BTreeMap<PreimageKey, Vec<u8>>);

impl Oracle for MemoryOracle<'_> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        let value = self.0.get(&key).cloned().ok_or(PreimageError::Missing { key })?;
        if !key.matches(&value) {
            return Err(PreimageError::WrongPreimage { key });
        }
        Ok(value)
    }
    fn hint(&mut self, _: &Hint) -> Result<(), PreimageError> {
        Ok(())
    }
}

/// Records what a host serves.
struct Recording<'h> {
    inner: LoopbackOracle<'h>,
    seen: BTreeMap<PreimageKey, Vec<u8>>,
}

impl Oracle for Recording<'_> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        let value = self.inner.get(key)?;
        self.seen.insert(key, value.clone());
        Ok(value)
    }
    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        self.inner.hint(hint)
    }
}

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// Runs the three ways on `blocks` blocks of `kind`; `keel` is the binary whose `prove` subcommand is timed.
pub fn bench_proof(kind: WorkloadKind, blocks: usize, keel: &Path) -> Result<ProofReport, BenchError> {
    let workload = Workload::new(kind, blocks)?;
    let spec = workload.genesis.chain_spec().map_err(setup)?;
    // Build the blocks once on a throw-away chain.
    let builder = Chain::open(spec.clone(), Store::memory())?;
    let mut built = Vec::new();
    for txs in workload.setup.iter().chain(&workload.blocks) {
        let head = builder.head()?;
        let attributes = keel_evm::BlockAttributes {
            timestamp: head.timestamp + 12,
            gas_limit: spec.genesis().gas_limit,
            parent_beacon_block_root: Some(alloy_primitives::B256::ZERO),
            ..Default::default()
        };
        let outcome = builder.build(&attributes, &mut keel_evm::InOrder(txs.iter().cloned()))?;
        built.push(outcome.block);
    }
    let setup_count = workload.setup.len();
    let dir = tempfile::tempdir().map_err(setup)?;
    let datadir = dir.path().join("datadir");
    let spec_file = dir.path().join("genesis.json");
    let spec_json = serde_json::to_string(spec.genesis()).map_err(setup)?;
    std::fs::write(&spec_file, &spec_json).map_err(setup)?;

    // (1) Stateful import into a datadir.
    let chain = Chain::open(spec.clone(), Store::open(&datadir)?)?;
    for block in &built[..setup_count] {
        chain.import(block)?;
    }
    let started = Instant::now();
    for block in &built[setup_count..] {
        chain.import(block)?;
    }
    let import = started.elapsed();

    // (2) The client in-process over an in-memory oracle holding exactly the block's witness.
    let mut host = DatadirHost::new(chain.store().snapshot()?).with_spec(spec.clone());
    let mut stateless = Duration::ZERO;
    let mut preimages = 0usize;
    let first = setup_count as u64 + 1;
    let numbers: Vec<u64> = (first..first + blocks as u64).collect();
    for &number in &numbers {
        let boot = host.boot_for_block(number, spec.chain_id(), spec_json.clone(), None).map_err(setup)?;
        let mut recording = Recording {
            inner: LoopbackOracle { host: &mut host, boot: boot.clone() },
            seen: BTreeMap::new(),
        };
        run_client(&mut recording).map_err(setup)?;
        let mut witness = recording.seen;
        for index in 1..=7 {
            if let Some(value) = boot.local(index) {
                witness.insert(PreimageKey::local(index), value);
            }
        }
        preimages += witness.len();
        let started = Instant::now();
        let verdict = run_client(&mut MemoryOracle(&witness)).map_err(setup)?;
        stateless += started.elapsed();
        if !matches!(verdict, Verdict::Valid { .. }) {
            return Err(setup(format!("block {number}: {verdict:?}")));
        }
    }
    drop(host);
    drop(chain);

    // (3) `keel prove`: host and client processes over pipes, from the datadir.
    let started = Instant::now();
    for &number in &numbers {
        let out = std::process::Command::new(keel)
            .args(["prove", "--block", &number.to_string(), "--datadir"])
            .arg(&datadir)
            .arg("--init")
            .arg(&spec_file)
            .output()
            .map_err(setup)?;
        if !out.status.success() {
            return Err(setup(format!(
                "keel prove --block {number}: {}",
                String::from_utf8_lossy(&out.stdout)
            )));
        }
    }
    let prove = started.elapsed();
    let per_block = |d: Duration| d.as_secs_f64() * 1000.0 / blocks as f64;
    Ok(ProofReport {
        workload: kind.name(),
        blocks,
        transactions_per_block: kind.transactions_per_block(),
        import_ms: per_block(import),
        stateless_ms: per_block(stateless),
        prove_ms: per_block(prove),
        preimages_per_block: preimages as f64 / blocks as f64,
    })
}

/// Round-trip times in microseconds: the oracle (key → length ‖ value, checked) and a bare pipe ping-pong of
/// the same sizes, each between two threads over OS pipes placed as `placement` says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoundTripReport {
    pub value_bytes: usize,
    pub placement: &'static str,
    pub oracle_median_us: f64,
    pub oracle_p99_us: f64,
    pub pipe_median_us: f64,
    pub pipe_p99_us: f64,
    /// One check of a value against its key (keccak256 of the value), which each side of the oracle does once.
    pub check_us: f64,
}

/// Where the two ends of a round trip run. Left to the scheduler, the figures are not comparable: a thread that
/// wakes on its peer's CPU answers in ~5 µs on this machine, one that wakes on the other CPU in ~45 µs, and
/// which one a thread gets sticks for the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Both ends on one CPU.
    SameCpu,
    /// The client on one CPU, the server on another.
    AcrossCpus,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::SameCpu => "same CPU",
            Placement::AcrossCpus => "across CPUs",
        }
    }
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

/// `None` when the machine cannot place the threads so (one CPU, or no affinity control).
pub fn bench_round_trip(
    size: usize,
    rounds: usize,
    placement: Placement,
) -> Result<Option<RoundTripReport>, BenchError> {
    if rounds == 0 {
        return Err(setup("round trips: need at least one round"));
    }
    let Some(cores) = core_affinity::get_core_ids() else { return Ok(None) };
    let (client_core, server_core) = match (placement, cores.as_slice()) {
        (Placement::SameCpu, [first, ..]) => (*first, *first),
        (Placement::AcrossCpus, [first, second, ..]) => (*first, *second),
        _ => return Ok(None),
    };
    let pin = move |core| {
        if !core_affinity::set_for_current(core) {
            return Err(setup("cannot set the CPU affinity"));
        }
        Ok(())
    };
    // The measuring thread is the client; its servers pin themselves before they answer anything.
    let measure = std::thread::spawn(move || -> Result<(Vec<Duration>, Vec<Duration>), BenchError> {
        pin(client_core)?;
        let value = vec![0xab; size];
        let key = PreimageKey::keccak(&value);
        let (key_read, key_write) = std::io::pipe().map_err(setup)?;
        let (reply_read, reply_write) = std::io::pipe().map_err(setup)?;
        let server = std::thread::spawn(move || {
            pin(server_core)?;
            serve_preimages(key_read, reply_write, Limits::default(), |_| Ok(Some(value.clone())))
                .map_err(setup)
        });
        let mut client = OracleClient::new(reply_read, key_write, Limits::default());
        let mut oracle = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            client.get(key).map_err(setup)?;
            oracle.push(started.elapsed());
        }
        drop(client);
        server.join().map_err(|_| setup("oracle server panicked"))??;

        let (ping_read, mut ping_write) = std::io::pipe().map_err(setup)?;
        let (mut pong_read, pong_write) = std::io::pipe().map_err(setup)?;
        let echo = std::thread::spawn(move || -> Result<(), BenchError> {
            pin(server_core)?;
            let (mut ping_read, mut pong_write) = (ping_read, pong_write);
            let reply = vec![0xab; size + 8];
            let mut request = [0u8; 32];
            while ping_read.read_exact(&mut request).is_ok() {
                if pong_write.write_all(&reply).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut pipe = Vec::with_capacity(rounds);
        let mut reply = vec![0u8; size + 8];
        for _ in 0..rounds {
            let started = Instant::now();
            ping_write.write_all(key.as_bytes()).map_err(setup)?;
            pong_read.read_exact(&mut reply).map_err(setup)?;
            pipe.push(started.elapsed());
        }
        drop(ping_write);
        echo.join().map_err(|_| setup("echo server panicked"))??;
        Ok((oracle, pipe))
    });
    let (oracle, pipe) = measure.join().map_err(|_| setup("round-trip thread panicked"))??;
    let (oracle_median_us, oracle_p99_us) = percentiles(oracle);
    let (pipe_median_us, pipe_p99_us) = percentiles(pipe);
    let value = vec![0xab; size];
    let key = PreimageKey::keccak(&value);
    let started = Instant::now();
    let checks = (0..rounds).filter(|_| key.matches(std::hint::black_box(&value))).count();
    let check_us = started.elapsed().as_secs_f64() * 1e6 / checks.max(1) as f64;
    Ok(Some(RoundTripReport {
        check_us,
        value_bytes: size,
        placement: placement.name(),
        oracle_median_us,
        oracle_p99_us,
        pipe_median_us,
        pipe_p99_us,
    }))
}
