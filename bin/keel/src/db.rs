//! `keel db`: encrypted datadirs — create one with a new key, rotate its key, check every entry of it — and the
//! key flags `keel node` and `keel prove` share.

use clap::{Args as ClapArgs, Subcommand};
use eyre::{bail, Result, WrapErr};
use keel_store::{DbKey, Store, KEY_ENV};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Where a datadir key comes from: `--key-file FILE` (or `KEEL_KEY_FILE`), else 64 hex digits in `KEEL_DB_KEY`.
#[derive(Debug, Clone, ClapArgs)]
pub(crate) struct KeyArgs {
    /// File holding the datadir's 32-byte key (64 hex digits, or 32 raw bytes). Without it, the key is read from
    /// the environment variable KEEL_DB_KEY.
    #[arg(long, value_name = "FILE", env = "KEEL_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The key, if one was given.
    pub(crate) fn load(&self) -> Result<Option<DbKey>> {
        if let Some(path) = &self.key_file {
            return Ok(Some(DbKey::read_file(path)?));
        }
        match std::env::var(KEY_ENV) {
            Ok(text) => {
                let text = zeroize::Zeroizing::new(text);
                Ok(Some(DbKey::parse(text.as_bytes(), &format!("environment variable {KEY_ENV}"))?))
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(e) => bail!("environment variable {KEY_ENV}: {e}"),
        }
    }

    /// The key, which must have been given.
    pub(crate) fn require(&self, what: &str) -> Result<DbKey> {
        self.load()?.ok_or_else(|| {
            eyre::eyre!("{what} needs the datadir key: --key-file FILE or {KEY_ENV}=<64 hex digits>")
        })
    }
}

#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Create an encrypted datadir. Uses the key in --key-file, or creates that file with a new random key
    /// (readable by its owner only). Keep the key file outside the datadir.
    Init {
        #[arg(long, default_value = ".keel", env = "KEEL_DATADIR")]
        datadir: PathBuf,
        /// The key file to use, or to create.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
    /// Re-encrypt a datadir under a new key, without losing data. Resumable: if it is interrupted, run the same
    /// command again. The node must be stopped.
    Rekey {
        #[arg(long, default_value = ".keel", env = "KEEL_DATADIR")]
        datadir: PathBuf,
        /// The current key.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
        /// The new key; the file is created with a new random key if it does not exist (and synced to disk before
        /// anything moves).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
        /// Entries re-encrypted per atomic commit.
        #[arg(long, default_value_t = 4096, value_name = "N")]
        batch_size: usize,
    },
    /// Read every entry of a datadir (each one authenticated, if encrypted) and check the head's state against
    /// its state root.
    Verify {
        #[arg(long, default_value = ".keel", env = "KEEL_DATADIR")]
        datadir: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        DbCommand::Init { datadir, key_file } => init(&datadir, &key_file),
        DbCommand::Rekey { datadir, key_file, new_key_file, batch_size } => {
            rekey(&datadir, &key_file, &new_key_file, batch_size)
        }
        DbCommand::Verify { datadir, key } => verify(&datadir, key.load()?),
    }
}

/// The key in `path`, or a new one written there.
fn key_or_create(path: &Path) -> Result<(DbKey, bool)> {
    if path.exists() {
        return Ok((DbKey::read_file(path)?, false));
    }
    let key = DbKey::generate();
    key.write_file(path)?;
    Ok((key, true))
}

fn init(datadir: &Path, key_file: &Path) -> Result<ExitCode> {
    let (key, created) = key_or_create(key_file)?;
    Store::init_encrypted(datadir, &key)
        .wrap_err_with(|| format!("keel db init --datadir {}", datadir.display()))?;
    let verb = if created { "created" } else { "used" };
    println!(
        "encrypted datadir {} created; key id {} ({verb} {})",
        datadir.display(),
        key.id(),
        key_file.display()
    );
    println!(
        "start it with: keel node --datadir {} --encrypt --key-file {}",
        datadir.display(),
        key_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn rekey(datadir: &Path, key_file: &Path, new_key_file: &Path, batch_size: usize) -> Result<ExitCode> {
    if !datadir.join(keel_store::DB_FILE).exists() {
        bail!("--datadir {}: no keel datadir there", datadir.display());
    }
    let old = DbKey::read_file(key_file)?;
    let (new, created) = key_or_create(new_key_file)?;
    if created {
        tracing::info!(key = %new.id(), file = %new_key_file.display(), "created a new key");
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} entries re-encrypted {elapsed_precise}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let started = std::time::Instant::now();
    let moved = Store::rekey(datadir, &old, &new, batch_size, &mut |moved| {
        bar.set_position(moved);
        tracing::debug!(moved, "rekey batch committed");
        true
    })
    .wrap_err_with(|| format!("keel db rekey --datadir {}", datadir.display()))?;
    bar.finish_and_clear();
    // The local-transaction journal (at `keel node`'s default place) is sealed with the datadir key too.
    let journal = datadir.join("transactions.rlp");
    let locals = keel_node::reseal_tx_journal(&journal, &old, &new)
        .wrap_err_with(|| format!("re-sealing {}", journal.display()))?;
    if locals > 0 {
        println!("{locals} local transactions in {} re-sealed", journal.display());
    }
    println!(
        "datadir {} now encrypted with key id {} (was {}); {moved} entries re-encrypted in {:.1?}",
        datadir.display(),
        new.id(),
        old.id(),
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(datadir: &Path, key: Option<DbKey>) -> Result<ExitCode> {
    if !datadir.join(keel_store::DB_FILE).exists() {
        bail!("--datadir {}: no keel datadir there", datadir.display());
    }
    let store = Store::open_opts(datadir, &keel_store::OpenOptions { key, ..Default::default() })?;
    let snapshot = store.snapshot()?;
    let mut total = 0u64;
    for table in keel_store::Table::ALL {
        let mut entries = 0u64;
        snapshot.kv().scan_prefix(table, &[], &mut |_, _| {
            entries += 1;
            true
        })?;
        println!("{:<12} {entries} entries", table.name());
        total += entries;
    }
    let head = snapshot.require_head()?;
    let check = snapshot.check_state(head.state_root)?;
    println!(
        "ok: {total} entries read; head block {} state root {} matches ({} accounts, {} storage slots)",
        head.number, head.state_root, check.accounts, check.storage_slots
    );
    Ok(ExitCode::SUCCESS)
}
