//! Nibble paths and the hex-prefix (HP) encoding of Yellow Paper appendix C.
//!
//! Inside the trie a path is a slice of nibbles, one nibble (`0..=15`) per byte. Keys are unpacked
//! with [`KeyNibbles`]; node paths are stored as `Vec<u8>` of nibbles and hex-prefix encoded only when
//! a node is RLP-encoded.

use alloc::vec::Vec;
use core::ops::Deref;

/// Keys up to this many bytes are unpacked on the stack (covers every Ethereum trie key).
const INLINE_KEY_BYTES: usize = 32;

/// A key unpacked into nibbles, on the stack for keys of up to 32 bytes.
pub(crate) enum KeyNibbles {
    Inline { buf: [u8; INLINE_KEY_BYTES * 2], len: usize },
    Heap(Vec<u8>),
}

impl KeyNibbles {
    pub(crate) fn new(key: &[u8]) -> Self {
        if key.len() <= INLINE_KEY_BYTES {
            let mut buf = [0u8; INLINE_KEY_BYTES * 2];
            for (pair, byte) in buf.chunks_exact_mut(2).zip(key) {
                pair[0] = byte >> 4;
                pair[1] = byte & 0x0f;
            }
            Self::Inline { buf, len: key.len() * 2 }
        } else {
            Self::Heap(unpack(key))
        }
    }
}

impl Deref for KeyNibbles {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline { buf, len } => &buf[..*len],
            Self::Heap(v) => v,
        }
    }
}

/// Unpacks bytes into a vector of nibbles (high nibble first).
pub(crate) fn unpack(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() * 2);
    for byte in key {
        out.push(byte >> 4);
        out.push(byte & 0x0f);
    }
    out
}

/// Length of the longest common prefix of two nibble slices.
pub(crate) fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Concatenates two nibble paths into a new vector.
pub(crate) fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// Paths of up to this many nibbles are hex-prefix encoded on the stack.
const INLINE_HP_NIBBLES: usize = 64;

/// Hex-prefix encodes `nibbles` (with the leaf flag if `leaf`) and passes the encoding to `f`.
///
/// The encoding is built on the stack for paths of up to 64 nibbles, so encoding a node does not
/// allocate for ordinary 32-byte keys.
pub(crate) fn with_hex_prefix<R>(nibbles: &[u8], leaf: bool, f: impl FnOnce(&[u8]) -> R) -> R {
    let len = nibbles.len() / 2 + 1;
    if nibbles.len() <= INLINE_HP_NIBBLES {
        let mut buf = [0u8; INLINE_HP_NIBBLES / 2 + 1];
        write_hex_prefix(nibbles, leaf, &mut buf[..len]);
        f(&buf[..len])
    } else {
        let mut buf = alloc::vec![0u8; len];
        write_hex_prefix(nibbles, leaf, &mut buf);
        f(&buf)
    }
}

/// Writes the hex-prefix encoding of `nibbles` into `out`, which must be `nibbles.len() / 2 + 1` long.
fn write_hex_prefix(nibbles: &[u8], leaf: bool, out: &mut [u8]) {
    let odd = nibbles.len() % 2 == 1;
    let flag = (u8::from(leaf) << 1) | u8::from(odd);
    let rest = if odd {
        out[0] = (flag << 4) | (nibbles[0] & 0x0f);
        &nibbles[1..]
    } else {
        out[0] = flag << 4;
        nibbles
    };
    for (byte, pair) in out[1..].iter_mut().zip(rest.chunks_exact(2)) {
        *byte = ((pair[0] & 0x0f) << 4) | (pair[1] & 0x0f);
    }
}

/// A borrowed, validated hex-prefix encoded path (as found in a node's RLP).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HexPrefixPath<'a> {
    bytes: &'a [u8],
    odd: bool,
    leaf: bool,
}

impl<'a> HexPrefixPath<'a> {
    /// Validates and wraps a hex-prefix encoded path.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let Some(&first) = bytes.first() else {
            return Err("empty hex-prefix path");
        };
        let flag = first >> 4;
        if flag > 3 {
            return Err("invalid hex-prefix flag");
        }
        let odd = flag & 1 == 1;
        if !odd && first & 0x0f != 0 {
            return Err("non-zero padding nibble in even hex-prefix path");
        }
        Ok(Self { bytes, odd, leaf: flag & 2 == 2 })
    }

    pub(crate) fn is_leaf(&self) -> bool {
        self.leaf
    }

    /// Number of nibbles in the path.
    pub(crate) fn len(&self) -> usize {
        (self.bytes.len() - 1) * 2 + usize::from(self.odd)
    }

    /// The `i`-th nibble; `i` must be `< self.len()`.
    fn nibble(&self, i: usize) -> u8 {
        let i = if self.odd { i + 1 } else { i + 2 };
        let byte = self.bytes[i / 2];
        if i % 2 == 0 {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }

    /// Iterates over the nibbles.
    pub(crate) fn nibbles(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.len()).map(move |i| self.nibble(i))
    }

    /// Whether `path` starts with this path.
    pub(crate) fn is_prefix_of(&self, path: &[u8]) -> bool {
        self.len() <= path.len() && self.nibbles().zip(path).all(|(a, &b)| a == b)
    }

    /// Unpacks the nibbles into a vector.
    pub(crate) fn to_vec(self) -> Vec<u8> {
        self.nibbles().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(nibbles: &[u8], leaf: bool) -> Vec<u8> {
        with_hex_prefix(nibbles, leaf, <[u8]>::to_vec)
    }

    #[test]
    fn hex_prefix_examples_from_yellow_paper() {
        assert_eq!(hp(&[1, 2, 3, 4, 5], false), [0x11, 0x23, 0x45]);
        assert_eq!(hp(&[0, 1, 2, 3, 4, 5], false), [0x00, 0x01, 0x23, 0x45]);
        assert_eq!(hp(&[0, 0xf, 1, 0xc, 0xb, 8], true), [0x20, 0x0f, 0x1c, 0xb8]);
        assert_eq!(hp(&[0xf, 1, 0xc, 0xb, 8], true), [0x3f, 0x1c, 0xb8]);
        assert_eq!(hp(&[], true), [0x20]);
        assert_eq!(hp(&[], false), [0x00]);
    }

    #[test]
    fn hex_prefix_roundtrip() {
        for len in 0..80 {
            let nibbles: Vec<u8> = (0..len).map(|i| (i * 7 % 16) as u8).collect();
            for leaf in [false, true] {
                let enc = hp(&nibbles, leaf);
                let dec = HexPrefixPath::decode(&enc).unwrap();
                assert_eq!(dec.is_leaf(), leaf);
                assert_eq!(dec.len(), len);
                assert_eq!(dec.to_vec(), nibbles);
                assert!(dec.is_prefix_of(&nibbles));
            }
        }
    }

    #[test]
    fn hex_prefix_rejects_invalid() {
        assert!(HexPrefixPath::decode(&[]).is_err());
        assert!(HexPrefixPath::decode(&[0x40]).is_err());
        assert!(HexPrefixPath::decode(&[0x01, 0x23]).is_err());
        assert!(HexPrefixPath::decode(&[0x25]).is_err());
    }

    #[test]
    fn key_nibbles() {
        assert_eq!(&*KeyNibbles::new(&[0xab, 0x01]), &[0xa, 0xb, 0, 1]);
        let long = [0x12u8; 40];
        assert_eq!(&*KeyNibbles::new(&long), unpack(&long).as_slice());
        assert_eq!(common_prefix_len(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(concat(&[1], &[2, 3]), [1, 2, 3]);
    }
}
