//! Helpers shared by the integration tests: independent reference root computations.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use alloy_primitives::{keccak256, B256};
use alloy_rlp::{Encodable, Header};
use alloy_trie::{HashBuilder, Nibbles};
use keel_trie::EMPTY_ROOT;
use std::collections::BTreeMap;

/// Root of the trie holding `map`, computed by alloy-trie's `HashBuilder`.
///
/// `HashBuilder` needs sorted keys of at most 32 bytes, none a prefix of another.
pub fn hash_builder_root(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let mut hb = HashBuilder::default();
    for (key, value) in map {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    hb.root()
}

/// Root of the trie holding `map`, computed by a deliberately naive recursive builder (supports keys
/// that are prefixes of other keys, unlike `HashBuilder`).
pub fn naive_root(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let entries: Vec<(Vec<u8>, &[u8])> =
        map.iter().map(|(k, v)| (k.iter().flat_map(|b| [b >> 4, b & 0xf]).collect(), v.as_slice())).collect();
    if entries.is_empty() {
        return EMPTY_ROOT;
    }
    keccak256(naive_node(&entries, 0))
}

fn hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let mut flag = if leaf { 2 } else { 0 };
    let mut out = Vec::new();
    let rest = if nibbles.len() % 2 == 1 {
        flag += 1;
        out.push(flag << 4 | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag << 4);
        nibbles
    };
    for pair in rest.chunks(2) {
        out.push(pair[0] << 4 | pair[1]);
    }
    out
}

/// An RLP list whose items are already encoded.
fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload_length = items.iter().map(Vec::len).sum();
    let mut out = Vec::new();
    Header { list: true, payload_length }.encode(&mut out);
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

fn string(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    bytes.encode(&mut out);
    out
}

fn reference(rlp: Vec<u8>) -> Vec<u8> {
    if rlp.len() < 32 {
        rlp
    } else {
        string(keccak256(&rlp).as_slice())
    }
}

fn naive_node(entries: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    if let [(key, value)] = entries {
        return list(&[string(&hex_prefix(&key[depth..], true)), string(value)]);
    }
    let first = &entries[0].0[depth..];
    let last = &entries[entries.len() - 1].0[depth..];
    let common = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    if common > 0 {
        let child = naive_node(entries, depth + common);
        return list(&[string(&hex_prefix(&first[..common], false)), reference(child)]);
    }
    let mut items = Vec::new();
    for nibble in 0..16u8 {
        let group: Vec<(Vec<u8>, &[u8])> =
            entries.iter().filter(|(k, _)| k.len() > depth && k[depth] == nibble).cloned().collect();
        items.push(if group.is_empty() { string(&[]) } else { reference(naive_node(&group, depth + 1)) });
    }
    let value = entries.iter().find(|(k, _)| k.len() == depth).map_or(&[][..], |(_, v)| v);
    items.push(string(value));
    list(&items)
}
