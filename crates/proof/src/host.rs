//! A host serving preimages from a keel datadir.

use crate::{ProofError, CLAIMED_BLOCK_HASH};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Bytes, B256};
use keel_preimage::{boot, Hint, HintType, KeyType, PreimageError, PreimageKey};
use keel_primitives::MESSAGE_PASSER_ADDRESS;
use keel_store::StoreSnapshot;
use keel_trie::{NodeStore, SecureTrie, Trie};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

/// The boot values of one claim (local keys 1–7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootValues {
    pub agreed_hash: B256,
    pub agreed_output: B256,
    pub claimed_output: B256,
    pub claimed_number: u64,
    pub chain_id: u64,
    pub spec_json: String,
    pub claimed_hash: B256,
}

impl BootValues {
    /// The value of local key `index`.
    pub fn local(&self, index: u64) -> Option<Vec<u8>> {
        Some(match index {
            boot::AGREED_BLOCK_HASH => self.agreed_hash.to_vec(),
            boot::AGREED_OUTPUT_ROOT => self.agreed_output.to_vec(),
            boot::CLAIMED_OUTPUT_ROOT => self.claimed_output.to_vec(),
            boot::CLAIMED_BLOCK_NUMBER => self.claimed_number.to_be_bytes().to_vec(),
            boot::CHAIN_ID => self.chain_id.to_be_bytes().to_vec(),
            boot::CHAIN_SPEC => self.spec_json.as_bytes().to_vec(),
            CLAIMED_BLOCK_HASH => self.claimed_hash.to_vec(),
            _ => return None,
        })
    }
}

/// Serves keccak preimages from a datadir snapshot: trie nodes, contract code and headers from the store, and the
/// transaction and withdrawal tries of each block whose header it served (rebuilt from the block body). A key
/// carries only 31 bytes of its hash, so a key the host was not told about by a hint is found by trying the 256
/// possible first bytes.
#[derive(Debug)]
pub struct DatadirHost {
    snapshot: Arc<StoreSnapshot>,
    /// With the chain spec, a `block-witness` hint makes the host execute the block itself and prepare every
    /// preimage the execution reads (keel's `debug_executionWitness`), so no key needs the 256-way search.
    spec: Option<keel_primitives::ChainSpec>,
    /// Preimages prepared from block bodies (and anything served), by key.
    prepared: BTreeMap<PreimageKey, Bytes>,
    /// Blocks whose header and transaction and withdrawal tries are prepared (or handed out as a job).
    blocks: BTreeSet<B256>,
    /// Blocks whose execution witness is prepared (or handed out as a job).
    witnesses: BTreeSet<B256>,
}

/// Preimages by key.
pub type Prepared = BTreeMap<PreimageKey, Bytes>;

/// Preparation work detached from its [`DatadirHost`], so that it can run on another thread while the host goes
/// on serving (see [`DatadirHost::hint_deferred`]); add its result with [`DatadirHost::add_prepared`].
#[derive(Debug)]
pub struct PrepareJob {
    snapshot: Arc<StoreSnapshot>,
    work: Work,
}

#[derive(Debug)]
enum Work {
    /// A block's header and its transaction and withdrawal tries (cheap).
    Block(B256),
    /// A block's execution witness (executes the block).
    Witness(B256, Box<keel_primitives::ChainSpec>),
}

impl PrepareJob {
    /// The block the job is about.
    pub fn block(&self) -> B256 {
        match &self.work {
            Work::Block(hash) | Work::Witness(hash, _) => *hash,
        }
    }

    /// Does the work (an empty result when the datadir lacks the block).
    pub fn run(self) -> Result<Prepared, ProofError> {
        match self.work {
            Work::Block(hash) => block_preimages(&self.snapshot, hash),
            Work::Witness(hash, spec) => witness_preimages(&self.snapshot, &spec, hash),
        }
    }
}

impl DatadirHost {
    pub fn new(snapshot: StoreSnapshot) -> Self {
        Self {
            snapshot: Arc::new(snapshot),
            spec: None,
            prepared: BTreeMap::new(),
            blocks: BTreeSet::new(),
            witnesses: BTreeSet::new(),
        }
    }

    /// Lets `block-witness` hints prepare whole execution witnesses (see the field's docs).
    pub fn with_spec(mut self, spec: keel_primitives::ChainSpec) -> Self {
        self.spec = Some(spec);
        self
    }

    pub fn snapshot(&self) -> &StoreSnapshot {
        &self.snapshot
    }

    /// The output root of the stored block `hash`.
    pub fn output_root(&self, hash: B256) -> Result<B256, ProofError> {
        let header = self
            .snapshot
            .header(hash)?
            .ok_or_else(|| ProofError::Host(format!("block {hash} is not in the datadir")))?;
        crate::client::output_root_at(&self.snapshot, header.state_root, hash)
    }

    /// Boot values for a claim about canonical block `number` (the agreed block is its parent); the claimed
    /// output root is `claim`, or the datadir's own when `None`.
    pub fn boot_for_block(
        &self,
        number: u64,
        chain_id: u64,
        spec_json: String,
        claim: Option<B256>,
    ) -> Result<BootValues, ProofError> {
        if number == 0 {
            return Err(ProofError::Host("block 0 (genesis) has no parent to agree on".into()));
        }
        let hash_of = |n: u64| {
            self.snapshot
                .canonical_hash(n)?
                .ok_or_else(|| ProofError::Host(format!("block {n} is not in the datadir's canonical chain")))
        };
        let claimed_hash = hash_of(number)?;
        let agreed_hash = hash_of(number - 1)?;
        Ok(BootValues {
            agreed_hash,
            agreed_output: self.output_root(agreed_hash)?,
            claimed_output: match claim {
                Some(claim) => claim,
                None => self.output_root(claimed_hash)?,
            },
            claimed_number: number,
            chain_id,
            spec_json,
            claimed_hash,
        })
    }

    /// Acts on a hint (advice only: a malformed one is ignored).
    pub fn hint(&mut self, text: &str) {
        for job in self.hint_deferred(text) {
            self.run_job(job);
        }
    }

    fn run_job(&mut self, job: PrepareJob) {
        let hash = job.block();
        match job.run() {
            Ok(prepared) => self.add_prepared(prepared),
            Err(e) => tracing::debug!(%hash, error = %e, "block not prepared"),
        }
    }

    /// [`Self::hint`] with the work handed back as jobs (each block's once), for the caller to run — on other
    /// threads, while the client does its own work (recovering senders) — and to add with [`Self::add_prepared`]
    /// before it serves a key that is not prepared yet. A `header` hint is answered at once (one read).
    pub fn hint_deferred(&mut self, text: &str) -> Vec<PrepareJob> {
        let Ok(hint) = Hint::parse(text) else { return Vec::new() };
        let hash = B256::from_slice(&hint.payload);
        match hint.kind {
            HintType::Header => {
                self.prepare_header(hash);
                Vec::new()
            }
            HintType::Transactions => self.block_job(hash).into_iter().collect(),
            HintType::BlockWitness => {
                self.block_job(hash).into_iter().chain(self.witness_job(hash)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The jobs that prepare everything a claim about `boot.claimed_hash` will read (its header, its parent's,
    /// its transactions and its execution witness): a host that knows the claim it serves can start on them
    /// before the client asks.
    pub fn prepare_claim(&mut self, boot: &BootValues) -> Vec<PrepareJob> {
        self.prepare_header(boot.agreed_hash);
        self.block_job(boot.claimed_hash).into_iter().chain(self.witness_job(boot.claimed_hash)).collect()
    }

    /// Prepares block `hash`'s header now (one read).
    fn prepare_header(&mut self, hash: B256) {
        if let Ok(Some(header)) = self.snapshot.header(hash) {
            self.prepared.insert(PreimageKey::keccak_hash(hash), alloy_rlp::encode(&header).into());
        }
    }

    fn block_job(&mut self, hash: B256) -> Option<PrepareJob> {
        self.blocks
            .insert(hash)
            .then(|| PrepareJob { snapshot: self.snapshot.clone(), work: Work::Block(hash) })
    }

    fn witness_job(&mut self, hash: B256) -> Option<PrepareJob> {
        let spec = self.spec.clone()?;
        self.witnesses.insert(hash).then(|| PrepareJob {
            snapshot: self.snapshot.clone(),
            work: Work::Witness(hash, Box::new(spec)),
        })
    }

    /// Adds the preimages a [`PrepareJob`] gathered.
    pub fn add_prepared(&mut self, prepared: Prepared) {
        self.prepared.extend(prepared);
    }

    /// The preimage of `key` if it is prepared (no store search).
    pub fn prepared(&self, key: &PreimageKey) -> Option<Bytes> {
        self.prepared.get(key).cloned()
    }

    /// Prepares block `hash`'s header and tries now (once).
    fn prepare_block(&mut self, hash: B256) {
        if let Some(job) = self.block_job(hash) {
            self.run_job(job);
        }
    }

    /// Everything one block's judgement reads (keel's `debug_executionWitness`): the headers of the block and its
    /// parent, the trie nodes and code its execution reads, its transaction and withdrawal tries, and the message
    /// passer's account path in both states. Needs the chain spec ([`DatadirHost::with_spec`]).
    pub fn witness(self, hash: B256) -> Result<Vec<Bytes>, ProofError> {
        let Some(spec) = &self.spec else {
            return Err(ProofError::Host("an execution witness needs the chain spec".into()));
        };
        if self.snapshot.header(hash)?.is_none() {
            return Err(ProofError::Host(format!("block {hash} is not in the datadir")));
        }
        let mut witness = block_preimages(&self.snapshot, hash)?;
        witness.extend(witness_preimages(&self.snapshot, spec, hash)?);
        Ok(witness.into_values().collect())
    }

    /// The value whose keccak256 is `hash` (a trie node, code or header), from the store (keel's `debug_dbGet`).
    pub fn get_by_hash(&mut self, hash: B256) -> Result<Option<Bytes>, ProofError> {
        self.by_hash(hash)
    }

    /// Adds preimages learned elsewhere (e.g. a node's execution witness), each under its keccak256 key.
    pub fn add_preimages(&mut self, values: impl IntoIterator<Item = Bytes>) {
        for value in values {
            self.prepared.insert(PreimageKey::keccak(&value), value);
        }
    }

    /// The value of a keccak256 preimage whose full hash is `hash`, from the store.
    fn by_hash(&mut self, hash: B256) -> Result<Option<Bytes>, ProofError> {
        if let Some(node) = self.snapshot.node(&hash)? {
            return Ok(Some(node));
        }
        if let Some(code) = self.snapshot.code(hash)? {
            return Ok(Some(code));
        }
        if let Some(header) = self.snapshot.header(hash)? {
            self.prepare_block(hash);
            return Ok(Some(alloy_rlp::encode(&header).into()));
        }
        Ok(None)
    }

    /// The preimage of `key`, if the datadir (or `boot`) has it.
    pub fn fetch(&mut self, boot: &BootValues, key: PreimageKey) -> Result<Option<Vec<u8>>, PreimageError> {
        let fail = |e: ProofError| PreimageError::Io {
            channel: "datadir",
            source: std::io::Error::other(e.to_string()),
        };
        match key.key_type() {
            KeyType::Local => Ok(key.local_index().and_then(|i| boot.local(i))),
            KeyType::Keccak256 => {
                if let Some(value) = self.prepared.get(&key) {
                    return Ok(Some(value.to_vec()));
                }
                let mut hash = B256::from(*key.as_bytes());
                for first in 0..=255u8 {
                    hash.0[0] = first;
                    if let Some(value) = self.by_hash(hash).map_err(fail)? {
                        if PreimageKey::keccak(&value) == key {
                            self.prepared.insert(key, value.clone());
                            return Ok(Some(value.to_vec()));
                        }
                    }
                }
                Ok(None)
            }
            KeyType::Sha256 | KeyType::BlobPoint | KeyType::Precompile => Ok(None),
        }
    }
}

/// Block `hash`'s header and the nodes of its transaction and withdrawal tries (rebuilt from its body).
fn block_preimages(snapshot: &StoreSnapshot, hash: B256) -> Result<Prepared, ProofError> {
    let mut prepared = Prepared::new();
    let Some(header) = snapshot.header(hash)? else { return Ok(prepared) };
    prepared.insert(PreimageKey::keccak_hash(hash), alloy_rlp::encode(&header).into());
    let Some(body) = snapshot.body(hash)? else { return Ok(prepared) };
    let mut add_trie = |items: Vec<Vec<u8>>| -> Result<(), ProofError> {
        let mut trie = Trie::new(keel_trie::MemoryNodeStore::new());
        trie.apply_batch(items.iter().enumerate().map(|(i, item)| (alloy_rlp::encode(i), Some(item))))?;
        let (_, nodes) = trie.commit();
        for (node_hash, rlp) in nodes {
            prepared.insert(PreimageKey::keccak_hash(node_hash), rlp);
        }
        Ok(())
    };
    add_trie(body.transactions.iter().map(|t| t.encoded_2718()).collect())?;
    if let Some(withdrawals) = &body.withdrawals {
        add_trie(withdrawals.iter().map(alloy_rlp::encode).collect())?;
    }
    Ok(prepared)
}

/// Executes block `hash` on its parent's state from the store, gathering every trie node, code and header the
/// execution reads, and the message passer's account path in both states (for the output roots). Empty when the
/// datadir lacks the block or its parent.
fn witness_preimages(
    snapshot: &StoreSnapshot,
    spec: &keel_primitives::ChainSpec,
    hash: B256,
) -> Result<Prepared, ProofError> {
    let (Some(header), Some(body)) = (snapshot.header(hash)?, snapshot.body(hash)?) else {
        return Ok(Prepared::new());
    };
    let Some(parent) = snapshot.header(header.parent_hash)? else { return Ok(Prepared::new()) };
    let senders = snapshot.senders(hash)?.unwrap_or_default();
    let recovered: Vec<keel_evm::RecoveredTx> = body
        .transactions
        .iter()
        .zip(senders)
        .map(|(tx, sender)| keel_evm::RecoveredTx { tx: tx.clone(), sender, hash: *tx.tx_hash() })
        .collect();
    let recorder = Recorder { snapshot, seen: Default::default() };
    let block = alloy_consensus::Block { header: header.clone(), body };
    {
        let codes = CodeRecorder(&recorder);
        let (newest_number, newest_hash) = (parent.number, header.parent_hash);
        let block_hashes = |n: u64| -> Result<B256, keel_evm::ProviderError> {
            let (mut number, mut hash) = (newest_number, newest_hash);
            while number > n {
                let header = recorder.header(hash).ok_or(keel_evm::ProviderError::MissingBlockHash(n))?;
                hash = header.parent_hash;
                number -= 1;
            }
            Ok(hash)
        };
        let provider = keel_evm::TrieState::new(parent.state_root, &recorder, &codes, block_hashes);
        // The host only gathers what execution reads; the client judges the result.
        let _ = keel_evm::execute_recovered_block(spec, &parent, &block, &recovered, provider);
        for root in [parent.state_root, header.state_root] {
            let _ = SecureTrie::open(root, &recorder).get(MESSAGE_PASSER_ADDRESS.as_slice());
        }
        // The account paths the client prefetches, read or not by this execution (an empty block never reads its
        // fee recipient).
        let accounts = crate::client::block_accounts(
            recovered.iter().map(|tx| (tx.sender, alloy_consensus::Transaction::to(&tx.tx))),
            block.header.beneficiary,
            block.body.withdrawals.as_ref().map_or(&[][..], |w| w.as_slice()),
        );
        let state = SecureTrie::open(parent.state_root, &recorder);
        for key in &accounts {
            let _ = state.get_hashed(key);
        }
    }
    let _ = recorder.header(hash);
    let _ = recorder.header(header.parent_hash);
    Ok(recorder.seen.into_inner())
}

/// Runs the client in this process against `host`, recording every preimage it asks for (and the boot values)
/// into the directory `dir`, so that `keel prove --kv DIR` can judge the claim in another process with nothing
/// else. Returns this run's verdict (informational: the separate process is the check that counts).
pub fn record_witness(
    host: &mut DatadirHost,
    boot: &BootValues,
    dir: &std::path::Path,
) -> Result<crate::Verdict, ProofError> {
    struct Recording<'h> {
        host: &'h mut DatadirHost,
        boot: &'h BootValues,
        store: keel_preimage::KvDirectory,
    }
    impl crate::Oracle for Recording<'_> {
        fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
            let value = self.host.fetch(self.boot, key)?.ok_or(PreimageError::Missing { key })?;
            if !key.matches(&value) {
                return Err(PreimageError::WrongPreimage { key });
            }
            if key.local_index().is_none() {
                self.store.put(&key, &value)?;
            }
            Ok(value)
        }
        fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
            self.host.hint(&hint.encode());
            Ok(())
        }
    }
    let store = keel_preimage::KvDirectory::create(dir)?;
    std::fs::write(dir.join("boot.json"), boot.to_json())
        .map_err(|e| ProofError::Host(format!("{}: {e}", dir.display())))?;
    let mut oracle = Recording { host, boot, store };
    crate::run_client(&mut oracle)
}

impl BootValues {
    /// The `boot.json` kept beside a recorded directory.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "agreedBlockHash": self.agreed_hash,
            "agreedOutputRoot": self.agreed_output,
            "claimedOutputRoot": self.claimed_output,
            "claimedBlockNumber": self.claimed_number,
            "chainId": self.chain_id,
            "chainSpec": self.spec_json,
            "claimedBlockHash": self.claimed_hash,
        })
        .to_string()
    }

    /// Reads a `boot.json`.
    pub fn from_json(text: &str) -> Result<Self, ProofError> {
        let bad = |reason: String| ProofError::Host(format!("boot.json: {reason}"));
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let b256 = |name: &str| -> Result<B256, ProofError> {
            value[name]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(format!("`{name}` missing or not a hash")))
        };
        let u64_of =
            |name: &str| value[name].as_u64().ok_or_else(|| bad(format!("`{name}` missing or not a number")));
        Ok(Self {
            agreed_hash: b256("agreedBlockHash")?,
            agreed_output: b256("agreedOutputRoot")?,
            claimed_output: b256("claimedOutputRoot")?,
            claimed_number: u64_of("claimedBlockNumber")?,
            chain_id: u64_of("chainId")?,
            spec_json: value["chainSpec"]
                .as_str()
                .ok_or_else(|| bad("`chainSpec` missing".into()))?
                .to_string(),
            claimed_hash: b256("claimedBlockHash")?,
        })
    }
}

/// The client's oracle wired straight to a host in the same process (tests, `keel blocktest --stateless`): every
/// value is still checked against its key, as over pipes.
#[derive(Debug)]
pub struct LoopbackOracle<'h> {
    pub host: &'h mut DatadirHost,
    pub boot: BootValues,
}

impl crate::Oracle for LoopbackOracle<'_> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        let value = self.host.fetch(&self.boot, key)?.ok_or(PreimageError::Missing { key })?;
        if !key.matches(&value) {
            return Err(PreimageError::WrongPreimage { key });
        }
        Ok(value)
    }

    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        self.host.hint(&hint.encode());
        Ok(())
    }
}

/// A store reader that remembers every preimage it hands out (trie nodes, code, headers).
struct Recorder<'s> {
    snapshot: &'s StoreSnapshot,
    seen: std::cell::RefCell<BTreeMap<PreimageKey, Bytes>>,
}

impl Recorder<'_> {
    fn header(&self, hash: B256) -> Option<alloy_consensus::Header> {
        let header = self.snapshot.header(hash).ok()??;
        self.seen.borrow_mut().insert(PreimageKey::keccak_hash(hash), alloy_rlp::encode(&header).into());
        Some(header)
    }
}

impl NodeStore for Recorder<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, keel_trie::TrieError> {
        let node = self.snapshot.node(hash)?;
        if let Some(node) = &node {
            self.seen.borrow_mut().insert(PreimageKey::keccak_hash(*hash), node.clone());
        }
        Ok(node)
    }
}

/// Contract code by hash, through a [`Recorder`].
struct CodeRecorder<'r, 's>(&'r Recorder<'s>);

impl NodeStore for CodeRecorder<'_, '_> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, keel_trie::TrieError> {
        let code = self.0.snapshot.code(*hash).map_err(|e| keel_trie::TrieError::Store(e.to_string()))?;
        if let Some(code) = &code {
            self.0.seen.borrow_mut().insert(PreimageKey::keccak_hash(*hash), code.clone());
        }
        Ok(code)
    }
}
