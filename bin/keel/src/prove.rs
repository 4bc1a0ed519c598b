//! `keel prove`, `keel client`: the fault-proof program as two processes wired over pipes (fds 3–6).

use alloy_primitives::{hex, B256};
use eyre::{bail, Result, WrapErr};
use keel_preimage::{KvDirectory, Limits, PreimageError, PreimageKey};
use keel_proof::{BootValues, DatadirHost, PipeOracle, Verdict};
use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc, Mutex,
    },
    time::Instant,
};

#[derive(Debug, clap::Args)]
pub(crate) struct ProveArgs {
    /// The block whose output root is claimed (its parent is the agreed block).
    #[arg(long, required_unless_present_all = ["from", "to"], conflicts_with_all = ["from", "to"])]
    block: Option<u64>,
    /// First block of a range to judge (each block against the datadir's own output root), with `--to`.
    #[arg(long, requires = "to")]
    from: Option<u64>,
    /// Last block of the range.
    #[arg(long, requires = "from")]
    to: Option<u64>,
    /// The claimed output root (default: the datadir's own, which must prove valid).
    #[arg(long, value_name = "0x…")]
    claim: Option<B256>,
    /// Serve preimages from this keel datadir (the node must be stopped).
    #[arg(long, conflicts_with = "kv")]
    datadir: Option<PathBuf>,
    /// The key of an encrypted `--datadir`.
    #[command(flatten)]
    key: crate::db::KeyArgs,
    /// Serve preimages from an offline key-value directory written by `--record` (no node, no datadir).
    #[arg(long, value_name = "DIR", conflicts_with = "rpc")]
    kv: Option<PathBuf>,
    /// Serve preimages from a running keel node over JSON-RPC (its `debug_executionWitness` and `debug_dbGet`),
    /// fetched as the client's hints announce them; the node keeps running and shares nothing with the client.
    #[arg(long, value_name = "URL", conflicts_with = "datadir")]
    rpc: Option<String>,
    /// The chain's geth-format genesis (default: the dev chain `keel node` runs without `--init`).
    #[arg(long, value_name = "GENESIS.json")]
    init: Option<PathBuf>,
    /// The sandbox policy the chain was created with (`keel node --policy FILE`): part of its chain spec.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Kill a client that has not finished after this many seconds (a client that hangs without dying).
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    timeout: u64,
    /// Record every preimage served (and the boot values) into this directory, for replay with `--kv`.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

/// Where the host's preimages come from.
enum Source {
    Datadir(Box<DatadirHost>),
    Kv(KvDirectory),
    Rpc(Box<RpcSource>),
}

/// A running node over JSON-RPC: preimages arrive per block (`debug_executionWitness`) or per hash
/// (`debug_dbGet`) when a hint names them.
struct RpcSource {
    client: jsonrpsee::http_client::HttpClient,
    runtime: tokio::runtime::Runtime,
    prepared: std::collections::BTreeMap<PreimageKey, Vec<u8>>,
}

impl RpcSource {
    fn connect(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let client = jsonrpsee::http_client::HttpClientBuilder::default()
            .max_response_size(256 * 1024 * 1024)
            .build(url)
            .wrap_err_with(|| format!("--rpc {url}"))?;
        Ok(Self { client, runtime, prepared: Default::default() })
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<serde_json::Value>,
    ) -> Result<T> {
        use jsonrpsee::core::client::ClientT;
        let mut array = jsonrpsee::core::params::ArrayParams::new();
        for p in params {
            array.insert(p)?;
        }
        self.runtime.block_on(self.client.request(method, array)).wrap_err_with(|| method.to_string())
    }

    fn hint(&mut self, text: &str) {
        let Ok(hint) = keel_preimage::Hint::parse(text) else { return };
        let hash = B256::from_slice(&hint.payload);
        let values: Vec<alloy_primitives::Bytes> = match hint.kind {
            keel_preimage::HintType::BlockWitness => self
                .call::<serde_json::Value>("debug_executionWitness", vec![serde_json::json!(hash)])
                .ok()
                .and_then(|w| serde_json::from_value(w["preimages"].clone()).ok())
                .unwrap_or_default(),
            keel_preimage::HintType::Header
            | keel_preimage::HintType::StateNode
            | keel_preimage::HintType::Code => self
                .call::<Option<alloy_primitives::Bytes>>("debug_dbGet", vec![serde_json::json!(hash)])
                .ok()
                .flatten()
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for value in values {
            self.prepared.insert(PreimageKey::keccak(&value), value.to_vec());
        }
    }

    /// The output root of block `number` from the node's header and `eth_getProof` of the message passer.
    fn output_root(&self, number: u64) -> Result<(B256, B256)> {
        let block: serde_json::Value = self.call(
            "eth_getBlockByNumber",
            vec![serde_json::json!(format!("0x{number:x}")), serde_json::json!(false)],
        )?;
        let hash: B256 = serde_json::from_value(block["hash"].clone())
            .wrap_err_with(|| format!("block {number}: no hash"))?;
        let state_root: B256 = serde_json::from_value(block["stateRoot"].clone()).wrap_err("no stateRoot")?;
        let proof: serde_json::Value = self.call(
            "eth_getProof",
            vec![
                serde_json::json!(keel_primitives::MESSAGE_PASSER_ADDRESS),
                serde_json::json!([]),
                serde_json::json!(format!("0x{number:x}")),
            ],
        )?;
        let storage_root: B256 =
            serde_json::from_value(proof["storageHash"].clone()).wrap_err("no storageHash")?;
        Ok((hash, keel_primitives::output_root(state_root, storage_root, hash)))
    }
}

impl Source {
    fn fetch(&mut self, boot: &BootValues, key: PreimageKey) -> Result<Option<Vec<u8>>, PreimageError> {
        match self {
            Source::Datadir(host) => host.fetch(boot, key),
            Source::Kv(dir) => match key.local_index() {
                Some(index) => Ok(boot.local(index)),
                None => dir.get(&key),
            },
            Source::Rpc(rpc) => match key.local_index() {
                Some(index) => Ok(boot.local(index)),
                None => Ok(rpc.prepared.get(&key).cloned()),
            },
        }
    }

    /// Acts on a hint; a datadir host hands back its preparation work, to run off the serving path.
    fn hint(&mut self, text: &str) -> Vec<keel_proof::PrepareJob> {
        match self {
            Source::Datadir(host) => host.hint_deferred(text),
            Source::Rpc(rpc) => {
                rpc.hint(text);
                Vec::new()
            }
            Source::Kv(_) => Vec::new(),
        }
    }

    /// The preparation of everything the claim will read, when the source can start on it before the client asks.
    fn prepare_claim(&mut self, boot: &BootValues) -> Vec<keel_proof::PrepareJob> {
        match self {
            Source::Datadir(host) => host.prepare_claim(boot),
            _ => Vec::new(),
        }
    }

    /// The preimage of `key` if it is at hand without a search (a datadir's prepared preimages).
    fn prepared(&self, key: &PreimageKey) -> Option<Vec<u8>> {
        match self {
            Source::Datadir(host) => host.prepared(key).map(|v| v.to_vec()),
            _ => None,
        }
    }

    fn add_prepared(&mut self, prepared: keel_proof::Prepared) {
        if let Source::Datadir(host) = self {
            host.add_prepared(prepared);
        }
    }
}

/// A host's preparation work (block bodies, execution witnesses) on a worker thread, so that the host starts on
/// a claim before its client is even running and acknowledges hints at once; a key that is not prepared yet waits
/// for the jobs in the order they were queued ([`Preparation::next`]).
struct Preparation {
    queue: mpsc::Sender<(keel_proof::PrepareJob, mpsc::Sender<Prepared>)>,
    pending: Mutex<std::collections::VecDeque<mpsc::Receiver<Prepared>>>,
    /// Set when the run is over: queued jobs nobody will wait for are skipped.
    done: Arc<AtomicBool>,
}

type Prepared = Result<keel_proof::Prepared, keel_proof::ProofError>;

impl Preparation {
    /// Starts the worker; it ends when this is dropped.
    fn start() -> Self {
        let (queue, jobs) = mpsc::channel::<(keel_proof::PrepareJob, mpsc::Sender<Prepared>)>();
        let done = Arc::new(AtomicBool::new(false));
        let over = done.clone();
        std::thread::spawn(move || {
            for (job, outcome) in jobs {
                if over.load(Ordering::Acquire) {
                    break;
                }
                let _ = outcome.send(job.run());
            }
        });
        Self { queue, pending: Mutex::new(Default::default()), done }
    }

    fn push(&self, jobs: Vec<keel_proof::PrepareJob>) {
        let Ok(mut pending) = self.pending.lock() else { return };
        for job in jobs {
            let (done, outcome) = mpsc::channel();
            if self.queue.send((job, done)).is_ok() {
                pending.push_back(outcome);
            }
        }
    }

    /// The outcome of the oldest job not taken yet (waiting for it), or `None` when there is none.
    fn next(&self) -> Option<Prepared> {
        let outcome = self.pending.lock().ok()?.pop_front()?;
        Some(
            outcome.recv().unwrap_or_else(|_| {
                Err(keel_proof::ProofError::Host("the preparation thread stopped".into()))
            }),
        )
    }
}

impl Drop for Preparation {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
    }
}

/// One host/client run's figures.
struct Judged {
    code: i32,
    preimages: u64,
    bytes: u64,
    hints: u64,
}

/// `keel client` (this binary).
fn keel_client() -> Result<std::process::Command> {
    let mut client = std::process::Command::new(std::env::current_exe()?);
    client.arg("client");
    Ok(client)
}

/// Runs `client` with fds 3–6 wired to a host serving `boot`'s claim from `source`.
fn serve(
    mut client: std::process::Command,
    mut source: Source,
    boot: &BootValues,
    record: Option<&KvDirectory>,
    quiet: bool,
    timeout: u64,
) -> Result<Judged> {
    let preparation = Preparation::start();
    preparation.push(source.prepare_claim(boot));
    let source = Mutex::new(source);
    let bytes = Mutex::new(0u64);
    if quiet {
        // Ranges run many clients under a progress bar; `keel prove --block N` shows one client's reasons.
        client.stderr(std::process::Stdio::null());
    }
    let lookup = |key: PreimageKey| -> Result<Option<Vec<u8>>, PreimageError> {
        let locked = || source.lock().map_err(|_| PreimageError::Missing { key });
        if key.key_type() != keel_preimage::KeyType::Keccak256 {
            // Boot values and the like: nothing to wait for.
            return locked()?.fetch(boot, key);
        }
        if let Some(value) = locked()?.prepared(&key) {
            return Ok(Some(value));
        }
        while let Some(outcome) = preparation.next() {
            match outcome {
                Ok(prepared) => locked()?.add_prepared(prepared),
                Err(e) => tracing::debug!(error = %e, "preparation failed"),
            }
            if let Some(value) = locked()?.prepared(&key) {
                return Ok(Some(value));
            }
        }
        locked()?.fetch(boot, key)
    };
    let run = keel_preimage::run_client_with_deadline(
        client,
        Limits::default(),
        Some(std::time::Duration::from_secs(timeout)),
        |key| {
            let value = lookup(key)?;
            if let (Some(value), Some(record)) = (&value, record) {
                if key.local_index().is_none() {
                    record.put(&key, value)?;
                }
            }
            match &value {
                Some(value) => {
                    *bytes.lock().map_err(|_| PreimageError::Missing { key })? += value.len() as u64
                }
                None => tracing::error!(%key, "no preimage: closing the preimage stream"),
            }
            Ok(value)
        },
        |hint| {
            let jobs = source.lock().map(|mut source| source.hint(hint)).unwrap_or_default();
            preparation.push(jobs);
        },
    )?;
    if let Some(e) = &run.error {
        tracing::error!(block = boot.claimed_number, error = %e, "host stopped serving");
    }
    Ok(Judged {
        code: run.status.code().unwrap_or(2),
        preimages: run.preimages,
        bytes: bytes.into_inner().unwrap_or(0),
        hints: run.hints,
    })
}

fn verdict_name(code: i32) -> &'static str {
    match code {
        0 => "valid",
        1 => "invalid",
        _ => "error",
    }
}

/// A datadir opened for proving: its store (kept open while snapshots are read), spec and spec JSON.
struct Datadir {
    store: keel_store::Store,
    spec: keel_primitives::ChainSpec,
    spec_json: String,
}

/// The chain `--init` names, or the dev chain `keel node` runs without it.
fn chain_spec(args: &ProveArgs) -> Result<keel_primitives::ChainSpec> {
    Ok(match &args.init {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).wrap_err_with(|| format!("--init {}", path.display()))?;
            keel_primitives::ChainSpec::from_genesis_json(&path.display().to_string(), &text)?
        }
        None => keel_primitives::DevGenesis::default().chain_spec()?,
    })
    .and_then(|spec| match &args.policy {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).wrap_err_with(|| format!("--policy {}", path.display()))?;
            let policy = keel_evm::keel_policy::PolicyConfig::from_toml(&path.display().to_string(), &text)?;
            Ok(spec.with_policy(&policy)?)
        }
        None => Ok(spec),
    })
}

fn open_datadir(args: &ProveArgs) -> Result<Datadir> {
    let datadir = args.datadir.clone().unwrap_or_else(|| PathBuf::from(".keel"));
    let spec = chain_spec(args)?;
    let key = args.key.load()?;
    if key.is_some() && args.record.is_some() {
        tracing::warn!("--record writes the preimages it serves in the clear: the recording of an encrypted datadir is not encrypted");
    }
    let store =
        keel_store::Store::open_opts(&datadir, &keel_store::OpenOptions { key, ..Default::default() })
            .wrap_err_with(|| format!("--datadir {} (is a node still running on it?)", datadir.display()))?;
    if store.snapshot()?.spec_hash()? != Some(spec.spec_hash()) {
        bail!("--datadir {} holds another chain: pass its genesis with --init (and its --policy, if it was created with one)", datadir.display());
    }
    let spec_json = serde_json::to_string(spec.genesis())?;
    Ok(Datadir { store, spec, spec_json })
}

pub(crate) fn prove(args: ProveArgs) -> Result<ExitCode> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        return prove_range(&args, from, to);
    }
    let Some(block) = args.block else { bail!("give --block N, or --from A --to B") };
    let started = Instant::now();
    let (_datadir, source, boot) = single_source(&args, block)?;
    let record = match &args.record {
        Some(dir) => {
            let store = KvDirectory::create(dir)?;
            std::fs::write(dir.join("boot.json"), boot.to_json())?;
            Some(store)
        }
        None => None,
    };
    let judged = serve(keel_client()?, source, &boot, record.as_ref(), false, args.timeout)?;
    println!("verdict: {} (client exit {})", verdict_name(judged.code), judged.code);
    println!("block: {} (hash {})", boot.claimed_number, boot.claimed_hash);
    println!("claimed output root: {}", boot.claimed_output);
    println!(
        "preimages: {} ({} bytes), hints: {}, time: {:.1} ms",
        judged.preimages,
        judged.bytes,
        judged.hints,
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(ExitCode::from(u8::try_from(judged.code).unwrap_or(2)))
}

/// The source and boot values of a claim about one block (the datadir, if any, must stay open while served).
fn single_source(args: &ProveArgs, block: u64) -> Result<(Option<Datadir>, Source, BootValues)> {
    let mut _datadir = None;
    if let Some(url) = &args.rpc {
        let rpc = RpcSource::connect(url)?;
        let spec = chain_spec(args)?;
        let chain_id: alloy_primitives::U64 = rpc.call("eth_chainId", Vec::new())?;
        if chain_id.to::<u64>() != spec.chain_id() {
            bail!(
                "--rpc {url} runs chain {chain_id}, the genesis says {}: pass its genesis with --init",
                spec.chain_id()
            );
        }
        if block == 0 {
            bail!("block 0 (genesis) has no parent to agree on");
        }
        let (agreed_hash, agreed_output) = rpc.output_root(block - 1)?;
        let (claimed_hash, own_output) = rpc.output_root(block)?;
        let boot = BootValues {
            agreed_hash,
            agreed_output,
            claimed_output: args.claim.unwrap_or(own_output),
            claimed_number: block,
            chain_id: spec.chain_id(),
            spec_json: serde_json::to_string(spec.genesis())?,
            claimed_hash,
        };
        return Ok((None, Source::Rpc(Box::new(rpc)), boot));
    }
    let (source, boot) = match &args.kv {
        Some(kv) => {
            let dir = KvDirectory::open(kv)?;
            let text = std::fs::read_to_string(kv.join("boot.json")).wrap_err("--kv: boot.json")?;
            let mut boot = BootValues::from_json(&text)?;
            if boot.claimed_number != block {
                bail!("--kv {} holds a claim about block {}, not {block}", kv.display(), boot.claimed_number);
            }
            if let Some(claim) = args.claim {
                boot.claimed_output = claim;
            }
            (Source::Kv(dir), boot)
        }
        None => {
            let datadir = open_datadir(args)?;
            let host = DatadirHost::new(datadir.store.snapshot()?).with_spec(datadir.spec.clone());
            let boot =
                host.boot_for_block(block, datadir.spec.chain_id(), datadir.spec_json.clone(), args.claim)?;
            _datadir = Some(datadir);
            (Source::Datadir(Box::new(host)), boot)
        }
    };
    Ok((_datadir, source, boot))
}

#[derive(Debug, clap::Args)]
pub(crate) struct HostArgs {
    #[command(flatten)]
    claim: ProveArgs,
    /// The client program and its arguments (it gets the protocol on fds 3–6).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// `keel host … -- CMD ARGS`: serves a claim to any client program speaking the protocol on fds 3–6; exits with
/// its code.
pub(crate) fn host(args: HostArgs) -> Result<ExitCode> {
    let Some(block) = args.claim.block else { bail!("keel host serves one claim: give --block N") };
    let (_datadir, source, boot) = single_source(&args.claim, block)?;
    let mut client = std::process::Command::new(&args.command[0]);
    client.args(&args.command[1..]);
    let judged = serve(client, source, &boot, None, false, args.claim.timeout)?;
    eprintln!(
        "host: client exited {} after {} preimages ({} bytes) and {} hints",
        judged.code, judged.preimages, judged.bytes, judged.hints
    );
    Ok(ExitCode::from(u8::try_from(judged.code).unwrap_or(2)))
}

/// `--from A --to B`: every block of the range judged by its own host/client pair, in parallel (one pair per
/// core), with a progress bar. Exit 0 if all are valid, 1 if any is invalid, 2 if any run failed.
fn prove_range(args: &ProveArgs, from: u64, to: u64) -> Result<ExitCode> {
    use rayon::prelude::*;
    if from == 0 || from > to {
        bail!("--from {from} --to {to}: need 1 <= from <= to");
    }
    if args.kv.is_some() || args.record.is_some() || args.claim.is_some() {
        bail!(
            "--from/--to judges the datadir's own claims: --kv, --record and --claim take a single --block"
        );
    }
    let started = Instant::now();
    let datadir = open_datadir(args)?;
    let bar = indicatif::ProgressBar::new(to - from + 1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} blocks {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let results: Vec<(u64, Result<Judged>)> = (from..=to)
        .into_par_iter()
        .map(|number| {
            let result = (|| {
                let host = DatadirHost::new(datadir.store.snapshot()?).with_spec(datadir.spec.clone());
                let boot =
                    host.boot_for_block(number, datadir.spec.chain_id(), datadir.spec_json.clone(), None)?;
                serve(keel_client()?, Source::Datadir(Box::new(host)), &boot, None, true, args.timeout)
            })();
            bar.inc(1);
            (number, result)
        })
        .collect();
    bar.finish_and_clear();
    let (mut valid, mut invalid, mut errors, mut preimages, mut bytes) = (0, 0, 0, 0u64, 0u64);
    for (number, result) in &results {
        match result {
            Ok(judged) => {
                preimages += judged.preimages;
                bytes += judged.bytes;
                match judged.code {
                    0 => valid += 1,
                    1 => {
                        invalid += 1;
                        println!("block {number}: invalid");
                    }
                    code => {
                        errors += 1;
                        println!("block {number}: error (client exit {code}; `keel prove --block {number}` shows why)");
                    }
                }
            }
            Err(e) => {
                errors += 1;
                println!("block {number}: error: {e:#}");
            }
        }
    }
    println!(
        "{valid} valid, {invalid} invalid, {errors} errors; {preimages} preimages ({bytes} bytes) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::from(if errors > 0 {
        2
    } else if invalid > 0 {
        1
    } else {
        0
    }))
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
