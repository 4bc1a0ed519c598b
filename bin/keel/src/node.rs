//! `keel node`: a dev chain with anvil's flags, serving JSON-RPC on 127.0.0.1:8545.

use eyre::{Result, WrapErr};
use keel_node::{Mining, Node, NodeConfig};
use keel_primitives::{dev_accounts, ChainSpec, DEV_MNEMONIC};
use keel_rpc::RpcConfig;
use std::{net::IpAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on. Loopback by default: the node signs with well-known dev keys and serves admin methods
    /// (evm_*, anvil_*), so any other address also needs `--allow-remote-admin`.
    #[arg(long, default_value = "127.0.0.1", env = "KEEL_HOST")]
    host: IpAddr,
    /// Allow `--host` to be a non-loopback address, exposing dev-key signing and admin methods to the network.
    #[arg(long)]
    allow_remote_admin: bool,
    /// Port to listen on (HTTP and WebSocket).
    #[arg(short, long, default_value_t = 8545, env = "KEEL_PORT")]
    port: u16,
    /// Chain id of the dev chain.
    #[arg(long, default_value_t = keel_primitives::DEV_CHAIN_ID)]
    chain_id: u64,
    /// Number of dev accounts to fund and unlock.
    #[arg(short, long, default_value_t = 10)]
    accounts: u32,
    /// Balance of each dev account, in ether.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// BIP-39 mnemonic the dev accounts derive from (m/44'/60'/0'/0/i).
    #[arg(short, long, default_value = DEV_MNEMONIC)]
    mnemonic: String,
    /// Mine a block every SECONDS instead of on every transaction.
    #[arg(short, long, value_name = "SECONDS", conflicts_with = "no_mining")]
    block_time: Option<f64>,
    /// Mine only on request (evm_mine, anvil_mine).
    #[arg(long)]
    no_mining: bool,
    /// Block gas limit.
    #[arg(long, default_value_t = 30_000_000)]
    gas_limit: u64,
    /// Base fee of the genesis block (wei).
    #[arg(long, default_value_t = keel_primitives::INITIAL_BASE_FEE)]
    base_fee: u64,
    /// Run the chain of this geth-format genesis file instead of the dev chain.
    #[arg(long, value_name = "GENESIS.json")]
    init: Option<PathBuf>,
    /// Where the chain is kept; a restart with the same datadir resumes it.
    #[arg(long, default_value = ".keel", env = "KEEL_DATADIR")]
    datadir: PathBuf,
    /// Keep the chain in memory only (nothing is written to disk).
    #[arg(long, conflicts_with = "datadir")]
    ephemeral: bool,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long, default_value_t = 2 * 1024 * 1024)]
    max_request_size: u32,
    /// Minimum gas tip (wei) for a transaction to enter the pool.
    #[arg(long = "txpool.pricelimit", default_value_t = 1, value_name = "WEI")]
    txpool_pricelimit: u128,
    /// Price bump (%) a replacement transaction needs over the one it replaces.
    #[arg(long = "txpool.pricebump", default_value_t = 10, value_name = "PERCENT")]
    txpool_pricebump: u64,
    /// Executable transaction slots guaranteed per account.
    #[arg(long = "txpool.accountslots", default_value_t = 16, value_name = "N")]
    txpool_accountslots: u64,
    /// Executable transaction slots for all accounts.
    #[arg(long = "txpool.globalslots", default_value_t = 5120, value_name = "N")]
    txpool_globalslots: u64,
    /// Non-executable transaction slots per account.
    #[arg(long = "txpool.accountqueue", default_value_t = 64, value_name = "N")]
    txpool_accountqueue: u64,
    /// Non-executable transaction slots for all accounts.
    #[arg(long = "txpool.globalqueue", default_value_t = 1024, value_name = "N")]
    txpool_globalqueue: u64,
    /// How long an account's non-executable transactions may wait (Go duration: 3h, 90m, 45s).
    #[arg(long = "txpool.lifetime", default_value = "3h", value_parser = parse_duration, value_name = "DURATION")]
    txpool_lifetime: Duration,
    /// Journal of local transactions, relative to the datadir (survives restarts).
    #[arg(long = "txpool.journal", default_value = "transactions.rlp", value_name = "FILE")]
    txpool_journal: PathBuf,
    /// How often the local-transaction journal is rewritten.
    #[arg(long = "txpool.rejournal", default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    txpool_rejournal: Duration,
    /// Do not track transactions submitted through RPC as local.
    #[arg(long = "txpool.nolocals")]
    txpool_nolocals: bool,
    /// A sandbox policy (TOML; see README) to make part of a new chain's spec: rules confining contracts at
    /// opcode level. A restart of the same datadir needs the same policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Keep the datadir encrypted at rest (values sealed, keys hashed; see README): the key comes from
    /// --key-file or KEEL_DB_KEY. A new datadir is created encrypted; `keel db init` does it ahead of time.
    #[arg(long, conflicts_with_all = ["ephemeral", "verify_blocks"])]
    encrypt: bool,
    #[command(flatten)]
    key: crate::db::KeyArgs,
    /// Judge every mined block with the fault-proof client in separate processes (`keel prove` over a recorded
    /// witness); verdicts are logged and served by `keel_blockVerdict(number)`.
    #[arg(long)]
    verify_blocks: bool,
    /// evm_revert drops the transactions of the blocks it unwinds, as anvil does, instead of putting them back
    /// into the pool as a reorganisation would (for snapshot/revert test fixtures).
    #[arg(long)]
    revert_drops_transactions: bool,
    /// A TOML file of settings, keyed by these flags' long names (`port = 9545`, `block-time = 2`, …).
    /// Precedence: command-line flag, then environment variable, then this file, then the default.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// The `node` flags a config file may set, with the environment variable that overrides the file, if any.
const CONFIG_KEYS: &[(&str, Option<&str>)] = &[
    ("host", Some("KEEL_HOST")),
    ("allow-remote-admin", None),
    ("port", Some("KEEL_PORT")),
    ("chain-id", None),
    ("accounts", None),
    ("balance", None),
    ("mnemonic", None),
    ("block-time", None),
    ("no-mining", None),
    ("gas-limit", None),
    ("base-fee", None),
    ("init", None),
    ("datadir", Some("KEEL_DATADIR")),
    ("ephemeral", None),
    ("max-request-size", None),
    ("txpool.pricelimit", None),
    ("txpool.pricebump", None),
    ("txpool.accountslots", None),
    ("txpool.globalslots", None),
    ("txpool.accountqueue", None),
    ("txpool.globalqueue", None),
    ("txpool.lifetime", None),
    ("txpool.journal", None),
    ("txpool.rejournal", None),
    ("txpool.nolocals", None),
    ("revert-drops-transactions", None),
    ("verify-blocks", None),
    ("encrypt", None),
    ("policy", None),
    ("key-file", Some("KEEL_KEY_FILE")),
];

/// A Go-style duration: a sequence of numbers with units `h`, `m`, `s`, `ms` (`3h`, `1h30m`, `500ms`).
fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration (examples: 3h, 1h30m, 45s, 500ms)");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(number * seconds).map_err(|_| bad())?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Expands `keel node --config FILE` into the flags the file sets, placed before the command line's own flags
/// (which therefore win), skipping those whose environment variable is set. Other command lines are returned
/// unchanged.
pub(crate) fn expand_config(args: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>> {
    if args.get(1).is_none_or(|a| a != "node") {
        return Ok(args);
    }
    let mut path = None;
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        } else if a == "--config" {
            path = args.get(i + 1).map(PathBuf::from);
        }
    }
    let Some(path) = path else { return Ok(args) };
    let text = std::fs::read_to_string(&path).wrap_err_with(|| format!("--config {}", path.display()))?;
    let table: toml::Table =
        text.parse().wrap_err_with(|| format!("--config {}: not valid TOML", path.display()))?;
    let mut injected: Vec<std::ffi::OsString> = Vec::new();
    // `txpool.pricelimit = 2` is TOML for a `txpool` table: flatten it back to the flag's name.
    let mut entries = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(inner) => {
                entries.extend(inner.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
            }
            value => entries.push((key, value)),
        }
    }
    for (key, value) in entries {
        let Some((_, env)) = CONFIG_KEYS.iter().find(|(k, _)| *k == key) else {
            eyre::bail!(
                "--config {}: unknown setting `{key}` (settings are `keel node` flags without dashes)",
                path.display()
            );
        };
        if env.is_some_and(|e| std::env::var_os(e).is_some()) {
            continue;
        }
        let flag = format!("--{key}");
        match value {
            toml::Value::Boolean(true) => injected.push(flag.into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => injected.extend([flag.into(), s.into()]),
            toml::Value::Integer(n) => injected.extend([flag.into(), n.to_string().into()]),
            toml::Value::Float(f) => injected.extend([flag.into(), f.to_string().into()]),
            other => eyre::bail!(
                "--config {}: `{key}` = {other:?} is not a string, number or boolean",
                path.display()
            ),
        }
    }
    let mut out = args[..2].to_vec();
    out.extend(injected);
    out.extend(args[2..].iter().cloned());
    Ok(out)
}

impl Args {
    fn config(&self) -> Result<NodeConfig> {
        let genesis = match &self.init {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).wrap_err_with(|| format!("--init {}", path.display()))?;
                Some(ChainSpec::from_genesis_json(&path.display().to_string(), &text)?)
            }
            None => None,
        };
        let mining = match (self.block_time, self.no_mining) {
            (_, true) => Mining::Manual,
            (Some(secs), _) if secs > 0.0 => Mining::Interval(Duration::from_secs_f64(secs)),
            (Some(secs), _) => eyre::bail!("--block-time must be positive, got {secs}"),
            (None, false) => Mining::Auto,
        };
        Ok(NodeConfig {
            datadir: (!self.ephemeral).then(|| self.datadir.clone()),
            genesis,
            dev: keel_primitives::DevGenesis {
                mnemonic: self.mnemonic.clone(),
                accounts: self.accounts,
                balance_ether: self.balance,
                chain_id: self.chain_id,
                gas_limit: self.gas_limit,
                base_fee: self.base_fee,
                ..Default::default()
            },
            mining,
            pool: keel_node::txpool::PoolConfig {
                price_limit: self.txpool_pricelimit,
                price_bump: self.txpool_pricebump,
                account_slots: self.txpool_accountslots,
                global_slots: self.txpool_globalslots,
                account_queue: self.txpool_accountqueue,
                global_queue: self.txpool_globalqueue,
                lifetime: self.txpool_lifetime,
                journal: (!self.ephemeral && !self.txpool_nolocals)
                    .then(|| self.datadir.join(&self.txpool_journal)),
                rejournal: self.txpool_rejournal,
                no_locals: self.txpool_nolocals,
            }
            .sanitized(),
            reinject_on_revert: !self.revert_drops_transactions,
            key: match (self.encrypt, &self.key.key_file) {
                (true, _) => Some(self.key.require("--encrypt")?),
                (false, Some(file)) => eyre::bail!(
                    "--key-file {} (or KEEL_KEY_FILE) is given without --encrypt: add --encrypt to use an encrypted \
                     datadir, or drop the key",
                    file.display()
                ),
                (false, None) => None,
            },
            policy: match &self.policy {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| eyre::eyre!("--policy {}: {e}", path.display()))?;
                    Some(
                        keel_evm::keel_policy::PolicyConfig::from_toml(&path.display().to_string(), &text)
                            .and_then(|config| {
                                config.clone().build(&path.display().to_string()).map(|_| config)
                            })?,
                    )
                }
                None => None,
            },
        })
    }
}

fn banner(args: &Args, node: &Node, listening: std::net::SocketAddr) -> Result<String> {
    use std::fmt::Write;
    let mut out = String::new();
    let accounts = dev_accounts(&args.mnemonic, args.accounts)?;
    let snapshot = node.snapshot()?;
    writeln!(out, "\nkeel v{} — an EVM node that can prove its own work\n", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "Available Accounts\n==================\n")?;
    for a in &accounts {
        let balance = snapshot.account(a.address)?.map(|acc| acc.balance).unwrap_or_default();
        let ether = alloy_primitives::utils::format_ether(balance);
        writeln!(out, "({}) {} ({ether} ETH)", a.index, a.address)?;
    }
    writeln!(out, "\nPrivate Keys\n==================\n")?;
    for a in &accounts {
        writeln!(out, "({}) {}", a.index, a.private_key)?;
    }
    writeln!(
        out,
        "\nWallet\n==================\nMnemonic:          {}\nDerivation path:   m/44'/60'/0'/0/\n",
        args.mnemonic
    )?;
    writeln!(out, "Chain ID\n==================\n\n{}\n", node.chain_id())?;
    let head = node.chain().head()?;
    writeln!(out, "Base Fee\n==================\n\n{}\n", head.base_fee_per_gas.unwrap_or_default())?;
    writeln!(out, "Gas Limit\n==================\n\n{}\n", head.gas_limit)?;
    let datadir = if args.ephemeral { "(in memory)".to_string() } else { args.datadir.display().to_string() };
    writeln!(out, "Datadir\n==================\n\n{datadir} (head block {} {})\n", head.number, head.hash())?;
    writeln!(out, "Listening on {listening}")?;
    Ok(out)
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    if !args.host.is_loopback() && !args.allow_remote_admin {
        eyre::bail!(
            "--host {} is not a loopback address: anyone who can reach it could sign with the dev keys and call \
             admin methods; pass --allow-remote-admin to do it anyway",
            args.host
        );
    }
    let config = args.config()?;
    let node = Arc::new(Node::open(&config)?);
    // Keeps an ephemeral node's witness directory alive while it runs.
    let mut _verify_dir = None;
    if args.verify_blocks {
        let work_dir = if args.ephemeral {
            let dir = tempfile::tempdir()?;
            let path = dir.path().to_path_buf();
            _verify_dir = Some(dir);
            path
        } else {
            args.datadir.join("verify")
        };
        node.start_verifier(keel_node::VerifyConfig { keel: std::env::current_exe()?, work_dir })?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let rpc = RpcConfig {
            addr: (args.host, args.port).into(),
            max_request_size: args.max_request_size,
            ..RpcConfig::default()
        };
        let (addr, handle) = keel_rpc::serve(node.clone(), &rpc).await?;
        println!("{}", banner(&args, &node, addr)?);
        let miner = tokio::spawn(interval_miner(node.clone()));
        let upkeep = tokio::spawn(pool_upkeep(node.clone()));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = handle.clone().stopped() => {}
        }
        miner.abort();
        upkeep.abort();
        let _ = handle.stop();
        tracing::info!("shut down");
        Ok(ExitCode::SUCCESS)
    })
}

/// Pool upkeep every few seconds: lifetime eviction, local-transaction resubmission, journal rotation.
async fn pool_upkeep(node: Arc<Node>) {
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let node = node.clone();
        match tokio::task::spawn_blocking(move || node.maintain_pool()).await {
            Ok(Err(e)) => tracing::error!(error = %e, "txpool upkeep failed"),
            Err(e) => tracing::error!(error = %e, "txpool upkeep panicked"),
            Ok(Ok(())) => {}
        }
    }
}

/// Mines on the node's interval while interval mining is on (it can be switched at runtime).
async fn interval_miner(node: Arc<Node>) {
    loop {
        match node.mining() {
            Mining::Interval(every) => {
                tokio::time::sleep(every).await;
                if matches!(node.mining(), Mining::Interval(_)) {
                    let node = node.clone();
                    match tokio::task::spawn_blocking(move || node.mine_pending()).await {
                        Ok(Err(e)) => tracing::error!(error = %e, "interval mining failed"),
                        Err(e) => tracing::error!(error = %e, "interval miner panicked"),
                        Ok(Ok(_)) => {}
                    }
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
