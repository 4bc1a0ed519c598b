//! `keel prove`, `keel client`: the fault-proof program as two processes wired over pipes (fds 3–6).

use alloy_primitives::{hex, B256};
use eyre::{bail, Result, WrapErr};
use keel_preimage::{KvDirectory, Limits, PreimageError, PreimageKey};
use keel_proof::{BootValues, DatadirHost, PipeOracle, Verdict};
use std::{path::PathBuf, process::ExitCode, sync::Mutex, time::Instant};

#[derive(Debug, clap::Args)]
pub(crate) struct ProveArgs {
    /// The block whose output root is claimed (its parent is the agreed block).
    #[arg(long)]
    block: u64,
    /// The claimed output root (default: the datadir's own, which must prove valid).
    #[arg(long, value_name = "0x…")]
    claim: Option<B256>,
    /// Serve preimages from this keel datadir (the node must be stopped).
    #[arg(long, conflicts_with = "kv")]
    datadir: Option<PathBuf>,
    /// Serve preimages from an offline key-value directory written by `--record` (no node, no datadir).
    #[arg(long, value_name = "DIR")]
    kv: Option<PathBuf>,
    /// The chain's geth-format genesis (default: the dev chain `keel node` runs without `--init`).
    #[arg(long, value_name = "GENESIS.json")]
    init: Option<PathBuf>,
    /// Record every preimage served (and the boot values) into this directory, for replay with `--kv`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

/// Where the host's preimages come from.
enum Source {
    Datadir(Box<DatadirHost>),
    Kv(KvDirectory),
}

impl Source {
    fn fetch(&mut self, boot: &BootValues, key: PreimageKey) -> Result<Option<Vec<u8>>, PreimageError> {
        match self {
            Source::Datadir(host) => host.fetch(boot, key),
            Source::Kv(dir) => match key.local_index() {
                Some(index) => Ok(boot.local(index)),
                None => dir.get(&key),
            },
        }
    }

    fn hint(&mut self, text: &str) {
        if let Source::Datadir(host) = self {
            host.hint(text);
        }
    }
}

pub(crate) fn prove(args: ProveArgs) -> Result<ExitCode> {
    let started = Instant::now();
    // The store must outlive the snapshot the host reads.
    let mut _store = None;
    let (source, boot) = match (&args.datadir, &args.kv) {
        (_, Some(kv)) => {
            let dir = KvDirectory::open(kv)?;
            let text = std::fs::read_to_string(kv.join("boot.json")).wrap_err("--kv: boot.json")?;
            let mut boot = BootValues::from_json(&text)?;
            if boot.claimed_number != args.block {
                bail!(
                    "--kv {} holds a claim about block {}, not {}",
                    kv.display(),
                    boot.claimed_number,
                    args.block
                );
            }
            if let Some(claim) = args.claim {
                boot.claimed_output = claim;
            }
            (Source::Kv(dir), boot)
        }
        (datadir, None) => {
            let datadir = datadir.clone().unwrap_or_else(|| PathBuf::from(".keel"));
            let spec = match &args.init {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .wrap_err_with(|| format!("--init {}", path.display()))?;
                    keel_primitives::ChainSpec::from_genesis_json(&path.display().to_string(), &text)?
                }
                None => keel_primitives::DevGenesis::default().chain_spec()?,
            };
            let store = keel_store::Store::open(&datadir).wrap_err_with(|| {
                format!("--datadir {} (is a node still running on it?)", datadir.display())
            })?;
            let snapshot = store.snapshot()?;
            _store = Some(store);
            if snapshot.spec_hash()? != Some(spec.spec_hash()) {
                bail!("--datadir {} holds another chain: pass its genesis with --init", datadir.display());
            }
            let host = DatadirHost::new(snapshot);
            let spec_json = serde_json::to_string(spec.genesis())?;
            let boot = host.boot_for_block(args.block, spec.chain_id(), spec_json, args.claim)?;
            (Source::Datadir(Box::new(host)), boot)
        }
    };
    let record = match &args.record {
        Some(dir) => {
            let store = KvDirectory::create(dir)?;
            std::fs::write(dir.join("boot.json"), boot.to_json())?;
            Some(store)
        }
        None => None,
    };
    let source = Mutex::new(source);
    let bytes = Mutex::new(0u64);
    let mut client = std::process::Command::new(std::env::current_exe()?);
    client.arg("client");
    let run = keel_preimage::run_client(
        client,
        Limits::default(),
        |key| {
            let value = source.lock().map_err(|_| PreimageError::Missing { key })?.fetch(&boot, key)?;
            if let (Some(value), Some(record)) = (&value, &record) {
                if key.local_index().is_none() {
                    record.put(&key, value)?;
                }
            }
            if let Some(value) = &value {
                *bytes.lock().map_err(|_| PreimageError::Missing { key })? += value.len() as u64;
            } else {
                tracing::error!(%key, "no preimage: closing the preimage stream");
            }
            Ok(value)
        },
        |hint| {
            if let Ok(mut source) = source.lock() {
                source.hint(hint);
            }
        },
    )?;
    if let Some(e) = &run.error {
        tracing::error!(error = %e, "host stopped serving");
    }
    let code = run.status.code().unwrap_or(2);
    let verdict = match code {
        0 => "valid",
        1 => "invalid",
        _ => "error",
    };
    println!("verdict: {verdict} (client exit {code})");
    println!("block: {} (hash {})", boot.claimed_number, boot.claimed_hash);
    println!("claimed output root: {}", boot.claimed_output);
    println!(
        "preimages: {} ({} bytes), hints: {}, time: {:.1} ms",
        run.preimages,
        bytes.lock().map(|b| *b).unwrap_or(0),
        run.hints,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(2)))
}

/// `keel client`: the client on fds 3–6. Exit 0 valid, 1 invalid, 2 error (the reason on stderr).
pub(crate) fn client() -> ExitCode {
    let result = (|| -> Result<Verdict, keel_proof::ProofError> {
        let fds = keel_preimage::ClientFds::open()?;
        let mut oracle = PipeOracle::new(fds.hint_acks, fds.hints, fds.replies, fds.keys, Limits::default());
        keel_proof::run_client(&mut oracle)
    })();
    match result {
        Ok(Verdict::Valid { output_root }) => {
            eprintln!("valid: output root {output_root}");
            ExitCode::SUCCESS
        }
        Ok(Verdict::Invalid { output_root, reason }) => {
            let computed = output_root.map(|r| format!(" (computed {})", hex::encode(r))).unwrap_or_default();
            eprintln!("invalid: {reason}{computed}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
