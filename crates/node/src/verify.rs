//! `--verify-blocks`: every mined block is judged by the fault-proof client in a separate process. A background
//! thread records the block's witness (every preimage the client needs, taken from a store snapshot) into a
//! directory, then runs `keel prove --kv DIR` — a host and a client process that share nothing with the node —
//! and keeps the verdict for `keel_blockVerdict`. The mining path only sends the block number to the thread.

use crate::Node;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{mpsc, Arc, Mutex},
};

/// What `--verify-blocks` needs.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// The `keel` binary (its `prove` subcommand runs host and client).
    pub keel: PathBuf,
    /// Where witnesses are recorded while a block is judged.
    pub work_dir: PathBuf,
}

/// A block's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockVerdict {
    pub number: u64,
    /// `pending`, `valid`, `invalid` or `error`.
    pub verdict: String,
    /// The client's and host's last words (why, when not valid).
    pub detail: String,
}

/// The verdicts so far, by block number.
#[derive(Debug, Default)]
pub(crate) struct Verifier {
    pub(crate) queue: Mutex<Option<mpsc::Sender<u64>>>,
    pub(crate) verdicts: Mutex<BTreeMap<u64, BlockVerdict>>,
}

impl Verifier {
    fn set(&self, number: u64, verdict: &str, detail: String) {
        if let Ok(mut verdicts) = self.verdicts.lock() {
            verdicts.insert(number, BlockVerdict { number, verdict: verdict.into(), detail });
        }
    }
}

impl Node {
    /// Starts judging every block mined from now on (`keel node --verify-blocks`).
    pub fn start_verifier(self: &Arc<Self>, config: VerifyConfig) -> std::io::Result<()> {
        std::fs::create_dir_all(&config.work_dir)?;
        let (sender, receiver) = mpsc::channel::<u64>();
        if let Ok(mut queue) = self.verifier.queue.lock() {
            *queue = Some(sender);
        }
        let node = Arc::downgrade(self);
        std::thread::Builder::new().name("keel-verify".into()).spawn(move || {
            while let Ok(number) = receiver.recv() {
                let Some(node) = node.upgrade() else { return };
                let (verdict, detail) = node.judge(number, &config);
                tracing::info!(number, verdict, detail = %detail, "block verdict");
                node.verifier.set(number, verdict, detail);
            }
        })?;
        Ok(())
    }

    /// keel's `debug_executionWitness`: every preimage judging block `hash` needs (trie nodes, code, headers).
    pub fn execution_witness(
        &self,
        hash: alloy_primitives::B256,
    ) -> Result<Vec<alloy_primitives::Bytes>, crate::NodeError> {
        let snapshot = self.chain().store().snapshot()?;
        keel_proof::DatadirHost::new(snapshot)
            .with_spec(self.spec().clone())
            .witness(hash)
            .map_err(|e| crate::NodeError::InvalidParams(e.to_string()))
    }

    /// keel's `debug_dbGet`: the stored value whose keccak256 is `hash` (a trie node, code or header).
    pub fn db_get(
        &self,
        hash: alloy_primitives::B256,
    ) -> Result<Option<alloy_primitives::Bytes>, crate::NodeError> {
        let snapshot = self.chain().store().snapshot()?;
        keel_proof::DatadirHost::new(snapshot)
            .get_by_hash(hash)
            .map_err(|e| crate::NodeError::Internal(e.to_string()))
    }

    /// The verdict on block `number`, if it was (or is being) judged.
    pub fn block_verdict(&self, number: u64) -> Option<BlockVerdict> {
        self.verifier.verdicts.lock().ok()?.get(&number).cloned()
    }

    /// Queues a mined block for judgement (a channel send: all the mining path pays).
    pub(crate) fn queue_verification(&self, number: u64) {
        let Ok(queue) = self.verifier.queue.lock() else { return };
        if let Some(sender) = queue.as_ref() {
            self.verifier.set(number, "pending", String::new());
            let _ = sender.send(number);
        }
    }

    fn judge(&self, number: u64, config: &VerifyConfig) -> (&'static str, String) {
        let dir = config.work_dir.join(format!("block-{number}"));
        let result = (|| -> Result<(&'static str, String), String> {
            let snapshot = self.chain().store().snapshot().map_err(|e| e.to_string())?;
            let mut host = keel_proof::DatadirHost::new(snapshot).with_spec(self.spec().clone());
            let spec_json = serde_json::to_string(self.spec().genesis()).map_err(|e| e.to_string())?;
            let boot =
                host.boot_for_block(number, self.chain_id(), spec_json, None).map_err(|e| e.to_string())?;
            let _ = std::fs::remove_dir_all(&dir);
            // The in-process run only gathers the witness; its verdict is not the one reported.
            keel_proof::record_witness(&mut host, &boot, &dir)
                .map_err(|e| format!("recording the witness: {e}"))?;
            let out = std::process::Command::new(&config.keel)
                .args(["prove", "--block", &number.to_string(), "--kv"])
                .arg(&dir)
                .output()
                .map_err(|e| format!("{}: {e}", config.keel.display()))?;
            let detail = String::from_utf8_lossy(&out.stderr)
                .lines()
                .chain(String::from_utf8_lossy(&out.stdout).lines())
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
                .join(" | ");
            Ok((
                match out.status.code() {
                    Some(0) => "valid",
                    Some(1) => "invalid",
                    _ => "error",
                },
                detail,
            ))
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap_or_else(|e| ("error", e))
    }
}
