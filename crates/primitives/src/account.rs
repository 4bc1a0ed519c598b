use alloy_primitives::{b256, B256, U256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// keccak256 of the empty byte string: the code hash of an account without code.
pub const EMPTY_CODE_HASH: B256 = b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
/// Root of the empty Merkle-Patricia trie.
pub const EMPTY_ROOT_HASH: B256 = b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// The value stored in the state trie under keccak256(address): `rlp([nonce, balance, storageRoot, codeHash])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct StateAccount {
    pub nonce: u64,
    pub balance: U256,
    pub storage_root: B256,
    pub code_hash: B256,
}

impl Default for StateAccount {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, storage_root: EMPTY_ROOT_HASH, code_hash: EMPTY_CODE_HASH }
    }
}

impl StateAccount {
    /// EIP-161: an account is empty when it has no nonce, no balance and no code.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == EMPTY_CODE_HASH
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn empty_constants_are_the_hashes_they_claim() {
        assert_eq!(keccak256([]), EMPTY_CODE_HASH);
        // The empty trie's root is keccak256(rlp("")) = keccak256(0x80).
        assert_eq!(keccak256([0x80]), EMPTY_ROOT_HASH);
    }

    #[test]
    fn account_rlp_round_trips() {
        let a = StateAccount { nonce: 7, balance: U256::from(1234u64), ..Default::default() };
        let enc = alloy_rlp::encode(a);
        let dec: StateAccount = alloy_rlp::decode_exact(&enc).unwrap();
        assert_eq!(a, dec);
    }
}
