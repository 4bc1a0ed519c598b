//! `keel`: the command-line entry point. Each subcommand lives in its own module and calls into the crates.

mod bench;
mod db;
mod fixtures;
mod node;
mod prove;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "keel", version, about = "An EVM execution node that can prove its own work")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a dev chain with anvil's interface: JSON-RPC on 127.0.0.1:8545, funded dev accounts, automine.
    #[command(args_override_self = true)]
    Node(Box<node::Args>),
    /// Run ethereum/tests GeneralStateTests through keel's executor and trie.
    Statetest(fixtures::Args),
    /// Run ethereum/tests BlockchainTests through keel's node import path (store, executor, trie).
    Blocktest(fixtures::Args),
    /// Measure execution throughput: bare revm vs keel's executor vs keel's full import (redb), plain and
    /// encrypted.
    Bench(bench::Args),
    /// Benchmark `keel node` against anvil over JSON-RPC: transaction throughput by chain height, call rates,
    /// memory and start-up.
    BenchNode(bench::NodeArgs),
    /// Benchmark the transaction pool: insertion (with and without signature recovery), best-transaction
    /// iteration, memory per transaction, and eth_sendRawTransaction acceptance by a running node.
    BenchPool(bench::PoolArgs),
    /// Benchmark the proof program: stateful import vs in-process stateless vs `keel prove`, and the oracle's round
    /// trip vs a bare pipe.
    BenchProof(bench::ProofArgs),
    /// Benchmark the sandbox policy on a call-heavy workload: no policy vs a policy with rules for other contracts
    /// vs the calling contract confined.
    BenchPolicy(bench::PolicyArgs),
    /// Judge a claimed output root for a block: a host process serves preimages (from a datadir or a recorded
    /// directory) to a client process over pipes; prints the verdict and exits with the client's code.
    Prove(prove::ProveArgs),
    /// Serve one claim's preimages to any client program on fds 3–6: `keel host --block N [--datadir D | --kv DIR]
    /// -- CMD ARGS`; exits with the client's code.
    Host(prove::HostArgs),
    /// Encrypted datadirs: `db init` (new datadir and key), `db rekey` (rotate the key), `db verify` (read and
    /// authenticate every entry).
    Db(db::Args),
    /// The proof client alone, on fds 3–6 (started by `keel prove` or any host speaking the protocol).
    Client,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // redb panics on some damaged files; the store catches those panics and reports them as errors, so the
    // default hook's message would only repeat (as a "panic") what the error says.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().contains("/redb-")) {
            default_hook(info);
        }
    }));
    let args = match node::expand_config(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(args);
    let result = match cli.command {
        Command::Node(args) => node::run(*args),
        Command::Statetest(args) => fixtures::statetest(args),
        Command::Blocktest(args) => fixtures::blocktest(args),
        Command::Bench(args) => bench::run_bench(args),
        Command::BenchNode(args) => bench::run_node_bench(args),
        Command::BenchPool(args) => bench::run_pool_bench(args),
        Command::BenchProof(args) => bench::run_proof_bench(args),
        Command::BenchPolicy(args) => bench::run_policy_bench(args),
        Command::Prove(args) => prove::prove(args),
        Command::Host(args) => prove::host(args),
        Command::Db(args) => db::run(args),
        Command::Client => return prove::client(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
