//! `keel bench`: execution throughput, keel vs bare revm, on synthetic blocks.

use eyre::WrapErr;
use keel_bench::{run, Workload, WorkloadKind};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Workloads to run (transfers, erc20, storage); all of them by default.
    #[arg(long = "workload", value_name = "NAME")]
    workloads: Vec<WorkloadKind>,
    /// Blocks per workload (each fills about 2/3 of a 30M gas block).
    #[arg(long, default_value_t = 8)]
    blocks: usize,
    /// Runs per mode; the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Print one JSON object per workload instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_bench(args: Args) -> eyre::Result<ExitCode> {
    let kinds = if args.workloads.is_empty() { WorkloadKind::ALL.to_vec() } else { args.workloads };
    if !args.json {
        println!(
            "{:<10} {:>6} {:>6} {:>9} {:>12} {:>12} {:>13} {:>13} {:>10} {:>11} {:>12}",
            "workload",
            "blocks",
            "txs",
            "Mgas",
            "revm Mgas/s",
            "exec Mgas/s",
            "import Mgas/s",
            "enc. Mgas/s",
            "exec/revm",
            "import/revm",
            "enc. cost %"
        );
    }
    for kind in kinds {
        tracing::info!(workload = kind.name(), blocks = args.blocks, "preparing");
        let workload =
            Workload::new(kind, args.blocks).wrap_err_with(|| format!("workload {}", kind.name()))?;
        let report = run(&workload, args.repeat).wrap_err_with(|| format!("workload {}", kind.name()))?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "{:<10} {:>6} {:>6} {:>9.1} {:>12.1} {:>12.1} {:>13.1} {:>13.1} {:>10.2} {:>11.2} {:>12.1}",
                report.workload,
                report.blocks,
                report.transactions,
                report.revm.gas as f64 / 1e6,
                report.revm.mgas_per_second,
                report.execute.mgas_per_second,
                report.import.mgas_per_second,
                report.import_encrypted.mgas_per_second,
                report.execute_over_revm,
                report.import_over_revm,
                report.encryption_overhead * 100.0,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct NodeArgs {
    /// The anvil binary to compare with (default: the pinned one under tools/ when present).
    #[arg(long)]
    anvil: Option<std::path::PathBuf>,
    /// Transactions per send workload (chain height reached).
    #[arg(long, default_value_t = 10_000)]
    transactions: usize,
    /// Give up on a node's send workload after this many seconds (anvil stalls at a few thousand).
    #[arg(long, default_value_t = 120)]
    limit: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Measure keel alone.
    #[arg(long)]
    keel_only: bool,
    /// An extra argument for `keel node` (repeatable), e.g. `--keel-arg=--ephemeral` or `--keel-arg=--encrypt`.
    #[arg(long = "keel-arg", value_name = "ARG", allow_hyphen_values = true)]
    keel_args: Vec<String>,
}

pub(crate) fn run_node_bench(args: NodeArgs) -> eyre::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let mut keel = keel_bench::keel_command(std::env::current_exe()?, dir.path());
    if args.keel_args.iter().any(|a| a == "--ephemeral") {
        // `--ephemeral` replaces the benchmark's datadir.
        if let Some(at) = keel.command.iter().position(|a| a == "--datadir") {
            keel.command.drain(at..at + 2);
        }
    }
    keel.command.extend(args.keel_args.iter().cloned());
    let anvil_path = args.anvil.clone().filter(|_| !args.keel_only).or_else(|| {
        if args.keel_only {
            return None;
        }
        let pinned = std::path::PathBuf::from("tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
        pinned.exists().then_some(pinned)
    });
    let mut nodes = vec![keel];
    if let Some(anvil) = anvil_path {
        nodes.push(keel_bench::NodeUnderTest {
            name: "anvil".into(),
            command: vec![anvil.display().to_string(), "--port".into(), "{port}".into()],
        });
    }
    let limit = std::time::Duration::from_secs(args.limit);
    let mut reports = Vec::new();
    for node in &nodes {
        tracing::info!(node = node.name, "benchmarking");
        reports.push(
            keel_bench::bench_node(node, args.transactions, limit).wrap_err_with(|| node.name.clone())?,
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &reports {
        println!(
            "{}: start-up {:.0} ms, RSS idle {:.1} MiB, after load {:.1} MiB",
            r.name, r.startup_ms, r.idle_rss_mib, r.loaded_rss_mib
        );
        for s in &r.sends {
            let first = s.windows.first().copied().unwrap_or(0.0);
            let last = s.windows.last().copied().unwrap_or(0.0);
            println!(
                "  {:<9} {:<10} {:>6} txs: accepted {:>8.0}/s, mined {:>8.0}/s, first 1k {:>8.0}/s, last 1k {:>8.0}/s{}",
                s.workload,
                s.mining,
                s.transactions,
                s.accepted_per_second,
                s.mined_per_second,
                first,
                last,
                s.stalled_after.map(|n| format!(" (stopped at the time limit after {n})")).unwrap_or_default()
            );
        }
        for (method, connections, rate) in &r.calls {
            println!("  {method:<15} {connections:>2} conn: {rate:>9.0} req/s");
        }
    }
    if let [keel, anvil] = &reports[..] {
        println!("ratios keel/anvil:");
        for (k, a) in keel.sends.iter().zip(&anvil.sends) {
            println!(
                "  {} {}: mined/s {:.1}x",
                k.workload,
                k.mining,
                k.mined_per_second / a.mined_per_second.max(1e-9)
            );
        }
        for (k, a) in keel.calls.iter().zip(&anvil.calls) {
            println!("  {} {} conn: {:.1}x", k.0, k.1, k.2 / a.2.max(1e-9));
        }
        println!(
            "  start-up: {:.2}x faster, idle RSS {:.2}x",
            anvil.startup_ms / keel.startup_ms,
            keel.idle_rss_mib / anvil.idle_rss_mib
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct PoolArgs {
    /// Pool sizes to insert (transactions).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    /// Senders in the many-senders runs.
    #[arg(long, default_value_t = 1000)]
    senders: usize,
    /// Transactions for the memory and end-to-end measurements.
    #[arg(long, default_value_t = 10_000)]
    rpc_transactions: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_pool_bench(args: PoolArgs) -> eyre::Result<ExitCode> {
    // First, while the process's heap is fresh (see `bench_memory`).
    let memory = keel_bench::bench_memory(100_000, args.senders.max(1))?;
    let mut inserts = Vec::new();
    for &size in &args.sizes {
        for senders in [1, args.senders.min(size).max(1)] {
            tracing::info!(size, senders, "pool insertion");
            inserts.push(keel_bench::bench_insert(size, senders)?);
        }
    }
    let dir = tempfile::tempdir()?;
    let keel = keel_bench::keel_command(std::env::current_exe()?, dir.path());
    let raws: Vec<String> = keel_bench::signed_transfers(args.rpc_transactions, args.senders.max(1))
        .iter()
        .map(keel_bench::raw_hex)
        .collect();
    let senders = keel_bench::transfer_senders(args.senders.max(1));
    let accept = keel_bench::pool_accept_rate(&keel, &raws, &senders)?;
    if args.json {
        let report =
            serde_json::json!({ "insert": inserts, "memory": memory, "rpc_accept_per_second": accept });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &inserts {
        println!(
            "insert {:>8} txs from {:>5} sender(s): {:>10.0} tx/s recovered, {:>9.0} tx/s with recovery; best 30M-gas block in {:>7.0} µs",
            r.transactions, r.senders, r.recovered_per_second, r.with_recovery_per_second, r.best_block_us
        );
    }
    println!(
        "memory: {:.0} bytes per pooled transaction ({} txs; {:.0} of them the transaction itself, {:.0} pool overhead)",
        memory.bytes_per_transaction,
        memory.transactions,
        memory.transaction_bytes,
        memory.overhead_per_transaction
    );
    println!(
        "eth_sendRawTransaction into a --no-mining node: {accept:.0} tx/s accepted ({} txs, 1 connection)",
        raws.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct ProofArgs {
    /// Blocks per workload.
    #[arg(long, default_value_t = 4)]
    blocks: usize,
    /// Round trips per size for the oracle / pipe comparison.
    #[arg(long, default_value_t = 20_000)]
    rounds: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_proof_bench(args: ProofArgs) -> eyre::Result<ExitCode> {
    let keel = std::env::current_exe()?;
    let mut blocks = Vec::new();
    for kind in keel_bench::WorkloadKind::ALL {
        tracing::info!(workload = kind.name(), "proof benchmark");
        blocks.push(keel_bench::bench_proof(kind, args.blocks, &keel)?);
    }
    let mut trips = Vec::new();
    for placement in [keel_bench::Placement::SameCpu, keel_bench::Placement::AcrossCpus] {
        for size in [32, 1024] {
            trips.extend(keel_bench::bench_round_trip(size, args.rounds, placement)?);
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "blocks": blocks, "round_trips": trips }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    for r in &blocks {
        println!(
            "{:<9} {} blocks × {} txs: import {:.1} ms/block, stateless in-process {:.1} ms ({:.2}× import), keel prove {:.1} ms ({:.2}× import); {:.0} preimages/block",
            r.workload,
            r.blocks,
            r.transactions_per_block,
            r.import_ms,
            r.stateless_ms,
            r.stateless_ms / r.import_ms,
            r.prove_ms,
            r.prove_ms / r.import_ms,
            r.preimages_per_block
        );
    }
    for t in &trips {
        println!(
            "round trip {:>5} B, {:<11}: oracle median {:.1} µs / p99 {:.1} µs, bare pipe median {:.1} µs / p99 {:.1} µs ({:.2}× median; one keccak check {:.1} µs)",
            t.value_bytes,
            t.placement,
            t.oracle_median_us,
            t.oracle_p99_us,
            t.pipe_median_us,
            t.pipe_p99_us,
            t.oracle_median_us / t.pipe_median_us,
            t.check_us
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    /// Transactions in the block.
    #[arg(long, default_value_t = 40)]
    transactions: usize,
    /// CALLs each transaction makes.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// Runs per mode (interleaved; the median is reported).
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run_policy_bench(args: PolicyArgs) -> eyre::Result<ExitCode> {
    let report = keel_bench::bench_policy(args.transactions, args.calls, args.repeat)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} transactions × {} calls ({:.1} Mgas), median of {}:",
        report.transactions,
        report.calls_per_transaction,
        report.gas as f64 / 1e6,
        report.repeats
    );
    for mode in [&report.no_policy, &report.other_rules, &report.inherited_rules, &report.confined] {
        println!("  {:<28} {:>8.2} ms  {:>8.1} Mgas/s", mode.mode, mode.seconds * 1e3, mode.mgas_per_second);
    }
    println!(
        "policy with rules for other contracts: {:+.1}% time ({:+.1}% with an inherited rule); a confined call costs {:+.0} ns over a plain one ({:.0} ns)",
        report.other_rules_overhead * 100.0,
        report.inherited_rules_overhead * 100.0,
        report.confined_ns_per_call,
        report.plain_ns_per_call
    );
    Ok(ExitCode::SUCCESS)
}
