//! `keel statetest` and `keel blocktest`: ethereum/tests fixtures, one line per (sub)test, a summary line,
//! non-zero exit on failure.

use eyre::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use keel_primitives::Hardfork;
use keel_statetest::{run_block_file, run_file, BlockTestResult, Filter, Outcome, SubtestResult};
use rayon::prelude::*;
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only run this fork / network (ethereum/tests names: Berlin, London, Paris, Shanghai, Cancun, Prague, Osaka, …).
    #[arg(long)]
    fork: Option<String>,
    /// Only run tests whose name matches this regular expression.
    #[arg(long)]
    run: Option<String>,
    /// Print one JSON object per subtest instead of a text line.
    #[arg(long)]
    json: bool,
    /// (blocktest) Also judge every imported block with the fault-proof client, the host serving the pre-state
    /// built from the fixture.
    #[arg(long)]
    stateless: bool,
    /// (statetest) Load this sandbox policy (TOML, as `keel node --policy`) into the executor: its opcode hooks
    /// run for every fixture, and a policy without rules for the fixtures' contracts must change no result.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Fixture files or directories (searched recursively for *.json).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn collect_json(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| eyre::eyre!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            collect_json(&entry, out)?;
        }
    } else if path.is_file() {
        if path.extension().is_some_and(|e| e == "json") {
            out.push(path.to_path_buf());
        }
    } else {
        bail!("{}: no such file or directory", path.display());
    }
    Ok(())
}

fn subtest_line(r: &SubtestResult, json: bool) -> String {
    let (status, error) = match &r.outcome {
        Outcome::Passed => ("pass", String::new()),
        Outcome::Failed(e) => ("FAIL", e.clone()),
        Outcome::Skipped(why) => ("skip", why.clone()),
    };
    let root = r.state_root.map(|h| h.to_string()).unwrap_or_default();
    let logs = r.logs_hash.map(|h| h.to_string()).unwrap_or_default();
    if json {
        serde_json::json!({
            "name": r.name, "fork": r.fork, "d": r.data, "g": r.gas, "v": r.value,
            "pass": matches!(r.outcome, Outcome::Passed), "skipped": matches!(r.outcome, Outcome::Skipped(_)),
            "stateRoot": root, "logsHash": logs, "error": error,
        })
        .to_string()
    } else {
        format!(
            "{} {} d={} g={} v={} {status} stateRoot={root} logsHash={logs}{}",
            r.name,
            r.fork,
            r.data,
            r.gas,
            r.value,
            if error.is_empty() { String::new() } else { format!(" error={error:?}") }
        )
    }
}

fn block_test_line(r: &BlockTestResult, json: bool) -> String {
    let (status, error) = match &r.outcome {
        Outcome::Passed => ("pass", String::new()),
        Outcome::Failed(e) => ("FAIL", e.clone()),
        Outcome::Skipped(why) => ("skip", why.clone()),
    };
    let head = r.head.map(|h| h.to_string()).unwrap_or_default();
    if json {
        serde_json::json!({
            "name": r.name, "network": r.network, "blocks": r.blocks,
            "pass": matches!(r.outcome, Outcome::Passed), "skipped": matches!(r.outcome, Outcome::Skipped(_)),
            "head": head, "error": error,
        })
        .to_string()
    } else {
        format!(
            "{} {} blocks={} {status} head={head}{}",
            r.name,
            r.network,
            r.blocks,
            if error.is_empty() { String::new() } else { format!(" error={error:?}") }
        )
    }
}

impl Args {
    fn filter(&self) -> Result<Filter> {
        let fork = match &self.fork {
            Some(f) => Some(f.parse::<Hardfork>().map_err(|e| eyre::eyre!("--fork: {e}"))?),
            None => None,
        };
        let name = match &self.run {
            Some(re) => Some(regex::Regex::new(re).map_err(|e| eyre::eyre!("--run: {e}"))?),
            None => None,
        };
        let policy = match &self.policy {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| eyre::eyre!("--policy {}: {e}", path.display()))?;
                Some(std::sync::Arc::new(keel_evm::keel_policy::Policy::from_toml(
                    &path.display().to_string(),
                    &text,
                )?))
            }
            None => None,
        };
        Ok(Filter { fork, name, stateless: self.stateless, policy })
    }
}

/// `keel statetest`.
pub(crate) fn statetest(args: Args) -> Result<ExitCode> {
    let filter = args.filter()?;
    run_fixtures(&args, |file| {
        let results = run_file(file, &filter).map_err(|e| e.to_string())?;
        Ok(results.iter().map(|r| (r.outcome.clone(), subtest_line(r, args.json))).collect())
    })
}

/// `keel blocktest`.
pub(crate) fn blocktest(args: Args) -> Result<ExitCode> {
    let filter = args.filter()?;
    run_fixtures(&args, |file| {
        let results = run_block_file(file, &filter).map_err(|e| e.to_string())?;
        Ok(results.iter().map(|r| (r.outcome.clone(), block_test_line(r, args.json))).collect())
    })
}

type FileResult = Result<Vec<(Outcome, String)>, String>;

/// Runs `per_file` over every fixture file under `args.paths` in parallel (with a progress bar on a terminal),
/// then prints its lines in file order, the skip reasons, and the summary line.
fn run_fixtures(args: &Args, per_file: impl Fn(&Path) -> FileResult + Sync) -> Result<ExitCode> {
    let mut files = Vec::new();
    for path in &args.paths {
        collect_json(path, &mut files)?;
    }
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let results: Vec<FileResult> = files
        .par_iter()
        .map(|file| {
            let r = per_file(file);
            bar.inc(1);
            r
        })
        .collect();
    bar.finish_and_clear();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut skip_reasons: std::collections::BTreeMap<String, usize> = Default::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok(lines) => {
                for (outcome, line) in lines {
                    match outcome {
                        Outcome::Passed => passed += 1,
                        Outcome::Failed(_) => failed += 1,
                        Outcome::Skipped(why) => {
                            skipped += 1;
                            *skip_reasons.entry(why).or_default() += 1;
                        }
                    }
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                failed += 1;
                if args.json {
                    writeln!(out, "{}", serde_json::json!({"file": file, "pass": false, "error": e}))?;
                } else {
                    writeln!(out, "{} FAIL error={e:?}", file.display())?;
                }
            }
        }
    }
    for (why, n) in &skip_reasons {
        writeln!(out, "skipped {n}: {why}")?;
    }
    writeln!(out, "{passed} passed, {failed} failed, {skipped} skipped")?;
    out.flush()?;
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
