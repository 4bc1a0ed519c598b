//! The client: judges a claimed output root from preimages alone.

use crate::{Oracle, ProofError, CLAIMED_BLOCK_HASH};
use alloy_consensus::{Block, BlockBody, Header, Transaction, TxEnvelope};
use alloy_eips::{eip2718::Decodable2718, eip4895::Withdrawal};
use alloy_primitives::{hex, keccak256, Address, Bytes, B256};
use keel_evm::{execute_recovered_block, EvmError, ProviderError, RecoveredTx, TrieState};
use keel_preimage::{boot, Hint, HintType, PreimageError, PreimageKey};
use keel_primitives::{output_root, ChainSpec, StateAccount, MESSAGE_PASSER_ADDRESS};
use keel_trie::{NodeStore, Paths, SecureTrie, Trie, TrieError, EMPTY_ROOT};
use std::{cell::RefCell, collections::BTreeMap};

/// The client's judgement of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The claimed output root is the one the claimed block produces.
    Valid { output_root: B256 },
    /// It is not (or the claimed block is not a valid successor of the agreed one); `output_root` is what the
    /// client computed, when it got that far.
    Invalid { output_root: Option<B256>, reason: String },
}

/// Preimages through the oracle, cached by key (a `BTreeMap`: nothing here depends on hash-map order).
struct Preimages<'o, O> {
    oracle: RefCell<&'o mut O>,
    cache: RefCell<BTreeMap<PreimageKey, Bytes>>,
}

impl<O: Oracle> Preimages<'_, O> {
    fn get(&self, key: PreimageKey) -> Result<Bytes, PreimageError> {
        if let Some(value) = self.cache.borrow().get(&key) {
            return Ok(value.clone());
        }
        let value = Bytes::from(self.oracle.borrow_mut().get(key)?);
        self.cache.borrow_mut().insert(key, value.clone());
        Ok(value)
    }

    fn keccak(&self, hash: B256) -> Result<Bytes, PreimageError> {
        self.get(PreimageKey::keccak_hash(hash))
    }

    /// The keccak256 preimages of `hashes`, in order; those not cached are asked for in one pipelined batch.
    fn keccak_many(&self, hashes: &[B256]) -> Result<Vec<Bytes>, PreimageError> {
        let keys: Vec<PreimageKey> = hashes.iter().map(|h| PreimageKey::keccak_hash(*h)).collect();
        let missing: Vec<PreimageKey> = {
            let cache = self.cache.borrow();
            keys.iter().filter(|k| !cache.contains_key(k)).copied().collect()
        };
        if !missing.is_empty() {
            let values = self.oracle.borrow_mut().get_many(&missing)?;
            let mut cache = self.cache.borrow_mut();
            for (key, value) in missing.into_iter().zip(values) {
                cache.insert(key, Bytes::from(value));
            }
        }
        let cache = self.cache.borrow();
        Ok(keys.iter().map(|k| cache.get(k).cloned().unwrap_or_default()).collect())
    }

    /// Fetches, a trie level per batch, the nodes of trie `root` that `paths` selects (see [`keel_trie::prefetch`]):
    /// the lookups that follow find them in the cache.
    fn prefetch(&self, root: B256, paths: Paths<'_>) -> Result<(), ProofError> {
        keel_trie::prefetch(root, paths, |hashes| {
            self.keccak_many(hashes).map_err(|e| TrieError::Store(e.to_string()))
        })?;
        Ok(())
    }

    fn hint(&self, kind: HintType, hash: B256) -> Result<(), ProofError> {
        self.oracle.borrow_mut().hint(&Hint::new(kind, hash.to_vec())?)?;
        Ok(())
    }

    fn header(&self, hash: B256) -> Result<Header, ProofError> {
        let raw = self.keccak(hash)?;
        alloy_rlp::decode_exact::<Header>(&raw).map_err(|e| ProofError::Decode {
            what: "header",
            key: hash.to_string(),
            reason: e.to_string(),
        })
    }

    fn local(&self, index: u64, len: Option<usize>) -> Result<Bytes, ProofError> {
        let value = self.get(PreimageKey::local(index))?;
        match len {
            Some(len) if value.len() != len => {
                Err(ProofError::Boot { index, reason: format!("{} bytes, expected {len}", value.len()) })
            }
            _ => Ok(value),
        }
    }
}

impl<O: Oracle> NodeStore for Preimages<'_, O> {
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, TrieError> {
        match self.keccak(*hash) {
            Ok(rlp) => Ok(Some(rlp)),
            Err(PreimageError::Missing { .. }) => Ok(None),
            Err(e) => Err(TrieError::Store(e.to_string())),
        }
    }
}

/// The boot values (PREIMAGE.md "Boot information", plus keel's key 7).
struct Boot {
    agreed_hash: B256,
    agreed_output: B256,
    claimed_output: B256,
    claimed_number: u64,
    chain_id: u64,
    spec: ChainSpec,
    claimed_hash: B256,
}

fn load_boot<O: Oracle>(pre: &Preimages<'_, O>) -> Result<Boot, ProofError> {
    let b256 = |index| -> Result<B256, ProofError> { Ok(B256::from_slice(&pre.local(index, Some(32))?)) };
    let u64_at = |index| -> Result<u64, ProofError> {
        let raw = pre.local(index, Some(8))?;
        Ok(u64::from_be_bytes(raw[..].try_into().expect("8 bytes")))
    };
    let spec_json = pre.local(boot::CHAIN_SPEC, None)?;
    let spec_text = std::str::from_utf8(&spec_json)
        .map_err(|e| ProofError::Boot { index: boot::CHAIN_SPEC, reason: format!("not UTF-8: {e}") })?;
    let spec = ChainSpec::from_genesis_json("boot chain spec", spec_text)
        .map_err(|e| ProofError::Boot { index: boot::CHAIN_SPEC, reason: e.to_string() })?;
    let boot = Boot {
        agreed_hash: b256(boot::AGREED_BLOCK_HASH)?,
        agreed_output: b256(boot::AGREED_OUTPUT_ROOT)?,
        claimed_output: b256(boot::CLAIMED_OUTPUT_ROOT)?,
        claimed_number: u64_at(boot::CLAIMED_BLOCK_NUMBER)?,
        chain_id: u64_at(boot::CHAIN_ID)?,
        spec,
        claimed_hash: b256(CLAIMED_BLOCK_HASH)?,
    };
    if boot.spec.chain_id() != boot.chain_id {
        return Err(ProofError::Boot {
            index: boot::CHAIN_ID,
            reason: format!("chain id {} but the chain spec says {}", boot.chain_id, boot.spec.chain_id()),
        });
    }
    Ok(boot)
}

/// The output root of a block with state root `state_root` and hash `hash`, reading the message passer's account
/// through `nodes` (the oracle in the client, the store in a host).
pub(crate) fn output_root_at(
    nodes: impl NodeStore,
    state_root: B256,
    hash: B256,
) -> Result<B256, ProofError> {
    let trie = SecureTrie::open(state_root, nodes);
    let storage_root = match trie.get(MESSAGE_PASSER_ADDRESS.as_slice())? {
        None => EMPTY_ROOT,
        Some(rlp) => {
            alloy_rlp::decode_exact::<StateAccount>(&rlp)
                .map_err(|e| ProofError::Decode {
                    what: "account",
                    key: MESSAGE_PASSER_ADDRESS.to_string(),
                    reason: e.to_string(),
                })?
                .storage_root
        }
    };
    Ok(output_root(state_root, storage_root, hash))
}

fn block_output_root<O: Oracle>(
    pre: &Preimages<'_, O>,
    header: &Header,
    hash: B256,
) -> Result<B256, ProofError> {
    output_root_at(pre, header.state_root, hash)
}

/// The values of an ordered trie (transactions, withdrawals): index 0, 1, … until the first missing one.
fn ordered_values<O: Oracle>(pre: &Preimages<'_, O>, root: B256) -> Result<Vec<Bytes>, ProofError> {
    pre.prefetch(root, Paths::All)?;
    let trie = Trie::open(root, pre);
    let mut values = Vec::new();
    while let Some(value) = trie.get(&alloy_rlp::encode(values.len()))? {
        values.push(value);
    }
    Ok(values)
}

/// Whether an execution failure means the block is invalid (a verdict) rather than that the run failed.
fn invalidates_block(e: &EvmError) -> bool {
    matches!(
        e,
        EvmError::HeaderMismatch { .. }
            | EvmError::InvalidTransaction { .. }
            | EvmError::InvalidSignature { .. }
            | EvmError::InvalidBlock(_)
            | EvmError::SystemCall { .. }
    )
}

/// One claimed block with its body decoded and its senders recovered.
struct Gathered {
    hash: B256,
    header: Header,
    transactions: Vec<TxEnvelope>,
    withdrawals: Option<Vec<Withdrawal>>,
    recovered: Vec<RecoveredTx>,
}

/// Why a block's body cannot be executed.
enum Failure {
    /// A signature that does not recover: the block is invalid.
    Invalid(String),
    /// A body that does not decode.
    Error(ProofError),
}

/// Fetches block `hash`'s transactions and withdrawals through their roots and recovers the senders. The outer
/// error is the oracle's (the run cannot go on); the inner one is about the block's content.
fn gather<O: Oracle>(
    pre: &Preimages<'_, O>,
    hash: B256,
    header: Header,
) -> Result<Result<Gathered, Failure>, ProofError> {
    pre.hint(HintType::BlockWitness, hash)?;
    let raw_transactions = ordered_values(pre, header.transactions_root)?;
    let raw_withdrawals = header.withdrawals_root.map(|root| ordered_values(pre, root)).transpose()?;
    let mut transactions = Vec::with_capacity(raw_transactions.len());
    for (i, raw) in raw_transactions.iter().enumerate() {
        match TxEnvelope::decode_2718(&mut raw.as_ref()) {
            Ok(tx) => transactions.push(tx),
            Err(e) => {
                return Ok(Err(Failure::Error(ProofError::Decode {
                    what: "transaction",
                    key: format!("{hash}[{i}]"),
                    reason: e.to_string(),
                })))
            }
        }
    }
    let withdrawals = match raw_withdrawals {
        None => None,
        Some(raw) => match raw.iter().map(alloy_rlp::decode_exact::<Withdrawal>).collect() {
            Ok(withdrawals) => Some(withdrawals),
            Err(e) => {
                return Ok(Err(Failure::Error(ProofError::Decode {
                    what: "withdrawal",
                    key: hash.to_string(),
                    reason: e.to_string(),
                })))
            }
        },
    };
    let mut recovered = Vec::with_capacity(transactions.len());
    for (i, tx) in transactions.iter().enumerate() {
        match RecoveredTx::recover(tx.clone(), i) {
            Ok(tx) => recovered.push(tx),
            Err(e) => return Ok(Err(Failure::Invalid(format!("block {}: {e}", header.number)))),
        }
    }
    Ok(Ok(Gathered { hash, header, transactions, withdrawals, recovered }))
}

/// The hashed keys (sorted, deduplicated) of the accounts a block reads whatever its transactions do: senders and
/// recipients (`(sender, to)` per transaction), the fee recipient and the withdrawal addresses. The client
/// prefetches their paths; a host's execution witness includes them, so a host serving only the witness (a node
/// over RPC, a recording) has every node the prefetch asks for.
pub(crate) fn block_accounts(
    transactions: impl IntoIterator<Item = (Address, Option<Address>)>,
    beneficiary: Address,
    withdrawals: &[Withdrawal],
) -> Vec<B256> {
    let mut accounts: Vec<B256> = transactions
        .into_iter()
        .flat_map(|(sender, to)| [Some(sender), to])
        .chain([Some(beneficiary)])
        .chain(withdrawals.iter().map(|w| Some(w.address)))
        .flatten()
        .map(keccak256)
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    accounts
}

/// Runs the client over `oracle`: `Ok(verdict)` (exit 0 or 1), or an error (exit 2).
pub fn run_client<O: Oracle>(oracle: &mut O) -> Result<Verdict, ProofError> {
    let pre = Preimages { oracle: RefCell::new(oracle), cache: RefCell::new(BTreeMap::new()) };
    let boot = load_boot(&pre)?;
    pre.hint(HintType::Header, boot.agreed_hash)?;
    // The claimed block's witness also covers the agreed state's message-passer path (for the agreed output
    // root): a host that fetches per block (a node over RPC) has it before the first state read.
    pre.hint(HintType::BlockWitness, boot.claimed_hash)?;
    let agreed = pre.header(boot.agreed_hash)?;
    // The agreed output root is checked once the claimed blocks' transactions are in and their senders
    // recovered: a host that gathers the blocks' witnesses meanwhile has them ready by then.
    let check_agreed = || -> Result<B256, ProofError> {
        let agreed_output = block_output_root(&pre, &agreed, boot.agreed_hash)?;
        if agreed_output != boot.agreed_output {
            return Err(ProofError::Boot {
                index: boot::AGREED_OUTPUT_ROOT,
                reason: format!(
                    "the agreed block's output root is {agreed_output}, not {}",
                    boot.agreed_output
                ),
            });
        }
        Ok(agreed_output)
    };
    let invalid = |output_root, reason: String| Ok(Verdict::Invalid { output_root, reason });
    if boot.claimed_number < agreed.number {
        check_agreed()?;
        return invalid(
            None,
            format!("claimed block {} is before the agreed block {}", boot.claimed_number, agreed.number),
        );
    }
    if boot.claimed_number == agreed.number {
        let agreed_output = check_agreed()?;
        return Ok(if agreed_output == boot.claimed_output {
            Verdict::Valid { output_root: agreed_output }
        } else {
            Verdict::Invalid { output_root: Some(agreed_output), reason: "output root differs".into() }
        });
    }
    // The claimed block and its ancestors back to the agreed block, each header checked against its hash.
    pre.hint(HintType::Header, boot.claimed_hash)?;
    let claimed = pre.header(boot.claimed_hash)?;
    if claimed.number != boot.claimed_number {
        return Err(ProofError::Boot {
            index: CLAIMED_BLOCK_HASH,
            reason: format!(
                "names block {}, but the claim is about block {}",
                claimed.number, boot.claimed_number
            ),
        });
    }
    let mut chain = vec![(boot.claimed_hash, claimed)];
    while let Some((_, oldest)) = chain.last() {
        if oldest.number <= agreed.number + 1 {
            break;
        }
        let parent_hash = oldest.parent_hash;
        let parent = pre.header(parent_hash)?;
        chain.push((parent_hash, parent));
    }
    let first_parent = chain.last().map(|(_, h)| h.parent_hash).unwrap_or_default();
    if first_parent != boot.agreed_hash {
        check_agreed()?;
        return invalid(
            None,
            format!("claimed block {} does not descend from the agreed block", boot.claimed_hash),
        );
    }
    chain.reverse();
    // Every block's body, and its senders recovered (the client's heaviest work before execution), gathered
    // before anything is executed. A body that does not decode or a signature that does not recover is reported
    // when execution reaches its block, so an earlier invalid block still decides the verdict.
    let mut blocks = Vec::with_capacity(chain.len());
    let mut stop = None;
    for (hash, header) in chain {
        match gather(&pre, hash, header)? {
            Ok(block) => blocks.push(block),
            Err(failure) => {
                stop = Some(failure);
                break;
            }
        }
    }
    check_agreed()?;
    let mut parent = agreed.clone();
    let mut parent_hash = boot.agreed_hash;
    for Gathered { hash, header, transactions, withdrawals, recovered } in blocks {
        // The accounts the block is sure to read: their paths in the parent state, fetched a trie level at a time
        // rather than node by node during execution.
        let accounts = block_accounts(
            recovered.iter().map(|tx| (tx.sender, tx.tx.to())),
            header.beneficiary,
            withdrawals.as_deref().unwrap_or_default(),
        );
        let keys: Vec<&[u8]> = accounts.iter().map(|k| k.as_slice()).collect();
        pre.prefetch(parent.state_root, Paths::Keys(&keys))?;
        let block = Block {
            header: header.clone(),
            body: BlockBody { transactions, ommers: Vec::new(), withdrawals: withdrawals.map(Into::into) },
        };
        let (newest_number, newest_hash) = (parent.number, parent_hash);
        let block_hashes = |n: u64| -> Result<B256, ProviderError> {
            if n > newest_number {
                return Err(ProviderError::MissingBlockHash(n));
            }
            let (mut number, mut hash) = (newest_number, newest_hash);
            while number > n {
                hash = pre.header(hash).map_err(|e| ProviderError::Backend(e.to_string()))?.parent_hash;
                number -= 1;
            }
            Ok(hash)
        };
        let provider = TrieState::new(parent.state_root, &pre, &pre, block_hashes);
        match execute_recovered_block(&boot.spec, &parent, &block, &recovered, provider) {
            Ok(_) => {}
            Err(e) if invalidates_block(&e) => return invalid(None, format!("block {}: {e}", header.number)),
            Err(e) => return Err(e.into()),
        }
        parent = header;
        parent_hash = hash;
    }
    match stop {
        Some(Failure::Invalid(reason)) => return invalid(None, reason),
        Some(Failure::Error(e)) => return Err(e),
        None => {}
    }
    let computed = block_output_root(&pre, &parent, parent_hash)?;
    Ok(if computed == boot.claimed_output {
        Verdict::Valid { output_root: computed }
    } else {
        Verdict::Invalid {
            output_root: Some(computed),
            reason: format!(
                "output root is {computed}, the claim says 0x{}",
                hex::encode(boot.claimed_output)
            ),
        }
    })
}
