use alloy_primitives::{address, keccak256, Address, B256};

/// The OP Stack L2ToL1MessagePasser predeploy whose storage root is part of the output root.
pub const MESSAGE_PASSER_ADDRESS: Address = address!("4200000000000000000000000000000000000016");

/// OP Stack v0 output root: `keccak256(version(32 zero bytes) ‖ state_root ‖ message_passer_storage_root ‖
/// block_hash)`. Callers pass the empty-trie root as `message_passer_storage_root` when the account is absent.
pub fn output_root(state_root: B256, message_passer_storage_root: B256, block_hash: B256) -> B256 {
    let mut buf = [0u8; 128];
    buf[32..64].copy_from_slice(state_root.as_slice());
    buf[64..96].copy_from_slice(message_passer_storage_root.as_slice());
    buf[96..128].copy_from_slice(block_hash.as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn matches_the_preimage_md_vector() {
        let pad = |v: u16| {
            let mut b = [0u8; 32];
            b[30..].copy_from_slice(&v.to_be_bytes());
            B256::from(b)
        };
        let root = output_root(pad(0xbeef), pad(0xbabe), pad(0xc0de));
        assert_eq!(root, b256!("0c39fb6b07cf6694b13e63e59f7b15255be1c93a4d6d3e0da6c99729647c0d11"));
    }
}
