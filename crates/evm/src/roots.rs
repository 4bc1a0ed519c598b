use alloy_primitives::{keccak256, Bloom, Log, B256};
use keel_trie::{MemoryNodeStore, Trie, TrieError};

/// Root of the trie Ethereum builds over a block's list (transactions, receipts, withdrawals):
/// key `rlp(index)`, value the item's encoding. Built with keel's own trie.
pub fn ordered_trie_root<I, T>(items: I) -> Result<B256, TrieError>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut trie = Trie::new(MemoryNodeStore::default());
    let updates: Vec<(Vec<u8>, Option<T>)> =
        items.into_iter().enumerate().map(|(i, item)| (alloy_rlp::encode(i), Some(item))).collect();
    trie.apply_batch(updates)?;
    Ok(trie.root())
}

/// The 2048-bit bloom over the addresses and topics of `logs`.
pub fn logs_bloom<'a>(logs: impl IntoIterator<Item = &'a Log>) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for log in logs {
        bloom.accrue_log(log);
    }
    bloom
}

/// keccak256(rlp(logs)): the `logs` hash of ethereum/tests state tests.
pub fn logs_hash(logs: &[Log]) -> B256 {
    let mut out = Vec::new();
    alloy_rlp::encode_list(logs, &mut out);
    keccak256(out)
}
