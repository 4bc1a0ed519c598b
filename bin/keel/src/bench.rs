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
            "{:<10} {:>6} {:>6} {:>9} {:>12} {:>12} {:>12} {:>10} {:>10}",
            "workload",
            "blocks",
            "txs",
            "Mgas",
            "revm Mgas/s",
            "exec Mgas/s",
            "import Mgas/s",
            "exec/revm",
            "import/revm"
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
                "{:<10} {:>6} {:>6} {:>9.1} {:>12.1} {:>12.1} {:>12.1} {:>10.2} {:>10.2}",
                report.workload,
                report.blocks,
                report.transactions,
                report.revm.gas as f64 / 1e6,
                report.revm.mgas_per_second,
                report.execute.mgas_per_second,
                report.import.mgas_per_second,
                report.execute_over_revm,
                report.import_over_revm,
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
