//! Trie nodes: the in-memory representation, RLP encoding, and parsing of stored node RLP.
//!
//! Encoding (Yellow Paper appendix D):
//! - leaf      = `[HP(path, leaf = true), value]`
//! - extension = `[HP(path, leaf = false), child_ref]`
//! - branch    = `[child_ref_0, .., child_ref_15, value]` (`value` is the empty string when absent)
//!
//! A child reference is the child's own RLP if that is shorter than 32 bytes, otherwise the RLP
//! string of `keccak256(rlp(child))`; an absent child is the empty string `0x80`.

use crate::nibbles::{with_hex_prefix, HexPrefixPath};
use alloc::{boxed::Box, string::String, vec::Vec};
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_rlp::{Encodable, Header, EMPTY_STRING_CODE};

/// RLP of a node that is short enough (< 32 bytes) to be inlined into its parent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct InlineRlp {
    len: u8,
    buf: [u8; 31],
}

impl InlineRlp {
    /// `rlp` must be shorter than 32 bytes.
    fn new(rlp: &[u8]) -> Self {
        let mut buf = [0u8; 31];
        buf[..rlp.len()].copy_from_slice(rlp);
        Self { len: rlp.len() as u8, buf }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for InlineRlp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Inline({})", alloy_primitives::hex::encode_prefixed(self.as_slice()))
    }
}

/// How a node is referenced from its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeRef {
    /// The empty node (`0x80`).
    Empty,
    /// `keccak256(rlp)` of a node whose RLP is at least 32 bytes (or of the root).
    Hash(B256),
    /// The RLP itself of a node shorter than 32 bytes.
    Inline(InlineRlp),
}

impl NodeRef {
    /// The reference to a node with the given RLP.
    pub(crate) fn from_rlp(rlp: &[u8]) -> Self {
        if rlp.len() < 32 {
            Self::Inline(InlineRlp::new(rlp))
        } else {
            Self::Hash(keccak256(rlp))
        }
    }

    /// Encoded length of the reference inside the parent's RLP.
    fn length(&self) -> usize {
        match self {
            Self::Empty => 1,
            Self::Hash(_) => 33,
            Self::Inline(rlp) => rlp.as_slice().len(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Empty => out.push(EMPTY_STRING_CODE),
            Self::Hash(hash) => hash.encode(out),
            // An inlined node is embedded as-is (it is already RLP).
            Self::Inline(rlp) => out.extend_from_slice(rlp.as_slice()),
        }
    }
}

/// Cached hashing state of an in-memory node.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    /// The node's reference, if computed since the last modification.
    pub(crate) node_ref: Option<NodeRef>,
    /// Whether the node is already in the store (loaded from it, or returned by a commit).
    pub(crate) persisted: bool,
}

impl Cache {
    /// Cache of a node that was just decoded from stored RLP.
    fn clean(node_ref: NodeRef) -> Self {
        Self { node_ref: Some(node_ref), persisted: true }
    }
}

/// An in-memory trie node.
#[derive(Debug, Clone, Default)]
pub(crate) enum Node {
    #[default]
    Empty,
    /// A node not loaded yet; it lives in the store under this hash.
    Hash(B256),
    Leaf(Box<LeafNode>),
    Extension(Box<ExtensionNode>),
    Branch(Box<BranchNode>),
}

#[derive(Debug, Clone)]
pub(crate) struct LeafNode {
    /// Remaining key nibbles.
    pub(crate) key: Vec<u8>,
    pub(crate) value: Bytes,
    pub(crate) cache: Cache,
}

#[derive(Debug, Clone)]
pub(crate) struct ExtensionNode {
    /// Shared key nibbles; never empty.
    pub(crate) key: Vec<u8>,
    pub(crate) child: Node,
    pub(crate) cache: Cache,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BranchNode {
    pub(crate) children: [Node; 16],
    pub(crate) value: Option<Bytes>,
    pub(crate) cache: Cache,
}

impl Node {
    pub(crate) fn leaf(key: Vec<u8>, value: Bytes) -> Self {
        Self::Leaf(Box::new(LeafNode { key, value, cache: Cache::default() }))
    }

    /// An extension node; `key` must not be empty.
    pub(crate) fn extension(key: Vec<u8>, child: Self) -> Self {
        Self::Extension(Box::new(ExtensionNode { key, child, cache: Cache::default() }))
    }

    pub(crate) fn cache(&self) -> Option<&Cache> {
        match self {
            Self::Empty | Self::Hash(_) => None,
            Self::Leaf(n) => Some(&n.cache),
            Self::Extension(n) => Some(&n.cache),
            Self::Branch(n) => Some(&n.cache),
        }
    }

    pub(crate) fn cache_mut(&mut self) -> Option<&mut Cache> {
        match self {
            Self::Empty | Self::Hash(_) => None,
            Self::Leaf(n) => Some(&mut n.cache),
            Self::Extension(n) => Some(&mut n.cache),
            Self::Branch(n) => Some(&mut n.cache),
        }
    }

    /// The node's reference, from the cache if present, else by encoding it (and, recursively, any
    /// children whose reference is not cached) without updating any cache.
    pub(crate) fn node_ref(&self) -> NodeRef {
        match self {
            Self::Empty => NodeRef::Empty,
            Self::Hash(hash) => NodeRef::Hash(*hash),
            _ => match self.cache().and_then(|c| c.node_ref) {
                Some(r) => r,
                None => {
                    let mut buf = Vec::new();
                    self.encode(&mut buf);
                    NodeRef::from_rlp(&buf)
                }
            },
        }
    }

    /// Computes and caches the reference of this node and of every descendant whose reference is not
    /// cached. `buf` is scratch space. Each dirty node is encoded and hashed exactly once.
    pub(crate) fn update_refs(&mut self, buf: &mut Vec<u8>) -> NodeRef {
        match self {
            Self::Empty => return NodeRef::Empty,
            Self::Hash(hash) => return NodeRef::Hash(*hash),
            _ => {}
        }
        if let Some(r) = self.cache().and_then(|c| c.node_ref) {
            return r;
        }
        match self {
            Self::Extension(ext) => {
                ext.child.update_refs(buf);
            }
            Self::Branch(branch) => {
                for child in &mut branch.children {
                    child.update_refs(buf);
                }
            }
            _ => {}
        }
        buf.clear();
        self.encode(buf);
        let r = NodeRef::from_rlp(buf);
        if let Some(cache) = self.cache_mut() {
            cache.node_ref = Some(r);
        }
        r
    }

    /// Appends the RLP encoding of this node to `out`. Child references come from the children's
    /// caches when present. The empty node encodes as the empty string; a hash node as its hash.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Empty => out.push(EMPTY_STRING_CODE),
            Self::Hash(hash) => hash.encode(out),
            Self::Leaf(leaf) => with_hex_prefix(&leaf.key, true, |path| {
                let value: &[u8] = &leaf.value;
                let payload_length = path.length() + value.length();
                Header { list: true, payload_length }.encode(out);
                path.encode(out);
                value.encode(out);
            }),
            Self::Extension(ext) => with_hex_prefix(&ext.key, false, |path| {
                let child = ext.child.node_ref();
                let payload_length = path.length() + child.length();
                Header { list: true, payload_length }.encode(out);
                path.encode(out);
                child.encode(out);
            }),
            Self::Branch(branch) => {
                let refs: [NodeRef; 16] = core::array::from_fn(|i| branch.children[i].node_ref());
                let value: &[u8] = branch.value.as_ref().map_or(&[], |v| v.as_ref());
                let payload_length = refs.iter().map(NodeRef::length).sum::<usize>() + value.length();
                Header { list: true, payload_length }.encode(out);
                for r in &refs {
                    r.encode(out);
                }
                value.encode(out);
            }
        }
    }

    /// Decodes stored node RLP (whose reference is `node_ref`) into an in-memory node. Inlined
    /// children are decoded too; hashed children become [`Node::Hash`]. Values share `rlp`'s buffer.
    pub(crate) fn decode(rlp: &Bytes, raw: &[u8], node_ref: NodeRef) -> Result<Self, String> {
        let cache = Cache::clean(node_ref);
        Ok(match RawNode::parse(raw)? {
            RawNode::Leaf { path, value } => {
                Self::Leaf(Box::new(LeafNode { key: path.to_vec(), value: slice_of(rlp, value), cache }))
            }
            RawNode::Extension { path, child } => Self::Extension(Box::new(ExtensionNode {
                key: path.to_vec(),
                child: Self::decode_child(rlp, child)?,
                cache,
            })),
            RawNode::Branch { children, value } => {
                let mut node = Box::new(BranchNode {
                    value: value.map(|v| slice_of(rlp, v)),
                    cache,
                    ..Default::default()
                });
                for (slot, child) in node.children.iter_mut().zip(children) {
                    *slot = Self::decode_child(rlp, child)?;
                }
                Self::Branch(node)
            }
        })
    }

    fn decode_child(rlp: &Bytes, child: RawRef<'_>) -> Result<Self, String> {
        match child {
            RawRef::Empty => Ok(Self::Empty),
            RawRef::Hash(hash) => Ok(Self::Hash(hash)),
            RawRef::Inline(raw) => Self::decode(rlp, raw, NodeRef::Inline(InlineRlp::new(raw))),
        }
    }
}

/// A sub-slice of `buf` as `Bytes` sharing its allocation. `part` must point into `buf`.
pub(crate) fn slice_of(buf: &Bytes, part: &[u8]) -> Bytes {
    Bytes(buf.0.slice_ref(part))
}

/// A child reference inside stored node RLP.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawRef<'a> {
    Empty,
    Hash(B256),
    /// RLP of an inlined child node.
    Inline(&'a [u8]),
}

/// A node parsed (without copying) from its RLP.
// Short-lived and on the stack; boxing the branch variant would allocate on every lookup step.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum RawNode<'a> {
    Leaf { path: HexPrefixPath<'a>, value: &'a [u8] },
    Extension { path: HexPrefixPath<'a>, child: RawRef<'a> },
    Branch { children: [RawRef<'a>; 16], value: Option<&'a [u8]> },
}

/// One RLP item of a node's list.
enum Item<'a> {
    /// A string's payload.
    String(&'a [u8]),
    /// A whole encoded list (header included).
    List(&'a [u8]),
}

fn next_item<'a>(buf: &mut &'a [u8]) -> Result<Item<'a>, String> {
    let start = *buf;
    let header = Header::decode(buf).map_err(|e| alloc::format!("invalid RLP: {e}"))?;
    // `Header::decode` guarantees the payload is present.
    let (payload, rest) = buf.split_at_checked(header.payload_length).ok_or("RLP item truncated")?;
    *buf = rest;
    Ok(if header.list { Item::List(&start[..start.len() - rest.len()]) } else { Item::String(payload) })
}

fn child_ref(item: Item<'_>) -> Result<RawRef<'_>, String> {
    match item {
        Item::String([]) => Ok(RawRef::Empty),
        Item::String(hash) => {
            let hash = B256::try_from(hash).map_err(|_| "child reference is not a 32-byte hash")?;
            Ok(RawRef::Hash(hash))
        }
        Item::List(raw) if raw.len() < 32 => Ok(RawRef::Inline(raw)),
        Item::List(_) => Err("inlined child node is 32 bytes or longer".into()),
    }
}

fn string<'a>(item: Item<'a>, what: &str) -> Result<&'a [u8], String> {
    match item {
        Item::String(s) => Ok(s),
        Item::List(_) => Err(alloc::format!("{what} is a list")),
    }
}

impl<'a> RawNode<'a> {
    /// Parses and validates a node's RLP: a list of 2 (leaf/extension) or 17 (branch) items, valid
    /// hex-prefix paths, well-formed child references, no trailing bytes.
    pub(crate) fn parse(rlp: &'a [u8]) -> Result<Self, String> {
        let mut buf = rlp;
        let header = Header::decode(&mut buf).map_err(|e| alloc::format!("invalid RLP: {e}"))?;
        if !header.list {
            return Err("node is not an RLP list".into());
        }
        if buf.len() != header.payload_length {
            return Err("trailing bytes after node".into());
        }
        let mut items: [Option<Item<'a>>; 17] = Default::default();
        let mut count = 0;
        while !buf.is_empty() {
            let slot = items.get_mut(count).ok_or("node has more than 17 items")?;
            *slot = Some(next_item(&mut buf)?);
            count += 1;
        }
        let mut items = items.into_iter().flatten();
        let mut next = || items.next().ok_or_else(|| String::from("missing item"));
        match count {
            2 => {
                let path = string(next()?, "path")?;
                let path = HexPrefixPath::decode(path).map_err(String::from)?;
                if path.is_leaf() {
                    let value = string(next()?, "leaf value")?;
                    if value.is_empty() {
                        return Err("leaf with empty value".into());
                    }
                    Ok(Self::Leaf { path, value })
                } else {
                    if path.len() == 0 {
                        return Err("extension with empty path".into());
                    }
                    match child_ref(next()?)? {
                        RawRef::Empty => Err("extension with empty child".into()),
                        child => Ok(Self::Extension { path, child }),
                    }
                }
            }
            17 => {
                let mut children = [RawRef::Empty; 16];
                for child in &mut children {
                    *child = child_ref(next()?)?;
                }
                let value = string(next()?, "branch value")?;
                Ok(Self::Branch { children, value: (!value.is_empty()).then_some(value) })
            }
            n => Err(alloc::format!("node has {n} items, expected 2 or 17")),
        }
    }
}

/// Result of descending one step through a stored node.
pub(crate) enum Step<'a> {
    /// The key's value.
    Found(&'a [u8]),
    /// The key is not in the trie.
    Absent,
    /// Continue at `child` with `consumed` more nibbles of the key used.
    Child { child: RawRef<'a>, consumed: usize },
}

/// Looks up `path` (remaining key nibbles) in the node with RLP `rlp`.
pub(crate) fn step<'a>(rlp: &'a [u8], path: &[u8]) -> Result<Step<'a>, String> {
    Ok(match RawNode::parse(rlp)? {
        RawNode::Leaf { path: p, value } => {
            if p.len() == path.len() && p.is_prefix_of(path) {
                Step::Found(value)
            } else {
                Step::Absent
            }
        }
        RawNode::Extension { path: p, child } => {
            if p.is_prefix_of(path) {
                Step::Child { child, consumed: p.len() }
            } else {
                Step::Absent
            }
        }
        RawNode::Branch { children, value } => match path.first() {
            None => value.map_or(Step::Absent, Step::Found),
            Some(&n) => match children[usize::from(n & 0x0f)] {
                RawRef::Empty => Step::Absent,
                child => Step::Child { child, consumed: 1 },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn encode_decode_roundtrip() {
        let mut branch = BranchNode::default();
        branch.children[3] = Node::leaf(vec![1, 2], Bytes::from_static(b"short"));
        branch.children[7] = Node::leaf(vec![4; 30], Bytes::from(vec![9u8; 40]));
        branch.value = Some(Bytes::from_static(b"v"));
        let mut node = Node::Branch(Box::new(branch));
        let mut buf = Vec::new();
        let r = node.update_refs(&mut buf);
        let mut rlp = Vec::new();
        node.encode(&mut rlp);
        assert_eq!(r, NodeRef::from_rlp(&rlp));
        let rlp = Bytes::from(rlp);
        let decoded = Node::decode(&rlp, &rlp, r).unwrap();
        let mut again = Vec::new();
        decoded.encode(&mut again);
        assert_eq!(rlp.as_ref(), again.as_slice());
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            &hex!("")[..],
            &hex!("80"),
            &hex!("c0"),
            &hex!("c3820102"),   // 1 item
            &hex!("c4822001"),   // truncated
            &hex!("c3208001"),   // trailing item count 3
            &hex!("c28080"),     // leaf path empty string
            &hex!("c22080"),     // leaf with empty value
            &hex!("c20080"),     // extension with empty path
            &hex!("c3110101"),   // extension child is a 1-byte string
            &hex!("c4c22001ff"), // trailing bytes
            &hex!("c2400a"),     // bad flag
        ] {
            assert!(RawNode::parse(bad).is_err(), "{}", hex::encode(bad));
        }
        assert!(RawNode::parse(&hex!("c22001")).is_ok());
    }
}
