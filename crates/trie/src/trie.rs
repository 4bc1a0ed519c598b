//! The Merkle-Patricia trie: lookups, (batched) updates, hashing, commit and proofs.

use crate::{
    nibbles::{common_prefix_len, concat, unpack, KeyNibbles},
    node::{slice_of, step, BranchNode, Node, NodeRef, RawRef, Step},
    NodeStore, TrieError, EMPTY_ROOT,
};
use alloc::{boxed::Box, string::String, vec::Vec};
use alloy_primitives::{keccak256, Bytes, B256};

/// A Merkle-Patricia trie over a [`NodeStore`].
///
/// Nodes are loaded lazily from the store the first time an update touches them and then kept in
/// memory. Every in-memory node caches its hash; a modification clears the caches on its path only,
/// so [`root`](Self::root) after a few changes rehashes just the dirty paths, each dirty node once.
///
/// Reads ([`get`](Self::get), [`prove`](Self::prove)) take `&self`: they read through to the store
/// for parts of the trie not in memory, without caching what they load.
///
/// If an update returns an error (a node missing from the store, a malformed node), the trie may be
/// left partially updated: discard it.
#[derive(Debug, Clone)]
pub struct Trie<S> {
    root: Node,
    store: S,
}

/// One update of a batch: key nibbles and new value (`None` = delete).
struct Update {
    key: Vec<u8>,
    value: Option<Bytes>,
}

impl<S: NodeStore> Trie<S> {
    /// An empty trie whose nodes (if any are ever needed) come from `store`.
    pub fn new(store: S) -> Self {
        Self { root: Node::Empty, store }
    }

    /// The trie with root hash `root` in `store`. Nothing is read until the trie is used;
    /// [`EMPTY_ROOT`] opens an empty trie.
    pub fn open(root: B256, store: S) -> Self {
        let root = if root == EMPTY_ROOT { Node::Empty } else { Node::Hash(root) };
        Self { root, store }
    }

    /// The node store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Consumes the trie, returning its store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Whether the trie is empty (without reading the store).
    pub fn is_empty(&self) -> bool {
        matches!(self.root, Node::Empty)
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TrieError> {
        let path = KeyNibbles::new(key);
        let mut path: &[u8] = &path;
        let mut node = &self.root;
        loop {
            match node {
                Node::Empty => return Ok(None),
                Node::Hash(hash) => return get_stored(&self.store, *hash, path),
                Node::Leaf(leaf) => return Ok((leaf.key == path).then(|| leaf.value.clone())),
                Node::Extension(ext) => match path.strip_prefix(ext.key.as_slice()) {
                    Some(rest) => {
                        path = rest;
                        node = &ext.child;
                    }
                    None => return Ok(None),
                },
                Node::Branch(branch) => match path.split_first() {
                    None => return Ok(branch.value.clone()),
                    Some((&n, rest)) => {
                        path = rest;
                        node = &branch.children[usize::from(n)];
                    }
                },
            }
        }
    }

    /// Sets `key` to `value`. An empty `value` removes the key (Ethereum semantics).
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        let value = (!value.is_empty()).then(|| Bytes::copy_from_slice(value));
        self.apply_updates(&[Update { key: unpack(key), value }])
    }

    /// Removes `key` (a no-op if it is absent).
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        self.apply_updates(&[Update { key: unpack(key), value: None }])
    }

    /// Applies many updates at once; a `None` or empty value deletes the key. If a key appears more
    /// than once, its last update wins.
    ///
    /// The updates are sorted by key and the trie is walked once: every node on a changed path is
    /// loaded and modified once (and rehashed once, on the next [`root`](Self::root)), however many
    /// of the updated keys lie below it.
    pub fn apply_batch<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        updates: impl IntoIterator<Item = (K, Option<V>)>,
    ) -> Result<(), TrieError> {
        let mut updates: Vec<Update> = updates
            .into_iter()
            .map(|(key, value)| Update {
                key: unpack(key.as_ref()),
                value: value.map(|v| v.as_ref().to_vec()).filter(|v| !v.is_empty()).map(Bytes::from),
            })
            .collect();
        // Stable sort, then keep the last update of each key.
        updates.sort_by(|a, b| a.key.cmp(&b.key));
        let mut deduped: Vec<Update> = Vec::with_capacity(updates.len());
        for update in updates {
            match deduped.last_mut() {
                Some(last) if last.key == update.key => *last = update,
                _ => deduped.push(update),
            }
        }
        self.apply_updates(&deduped)
    }

    /// `updates` must be sorted by key, without duplicate keys.
    fn apply_updates(&mut self, updates: &[Update]) -> Result<(), TrieError> {
        apply(&self.store, &mut self.root, updates, 0)?;
        Ok(())
    }

    /// The root hash. Hashes every node modified since the last call (each once) and caches the
    /// results. Never reads the store.
    pub fn root(&mut self) -> B256 {
        let mut buf = Vec::new();
        match self.root.update_refs(&mut buf) {
            NodeRef::Empty => EMPTY_ROOT,
            NodeRef::Hash(hash) => hash,
            NodeRef::Inline(rlp) => keccak256(rlp.as_slice()),
        }
    }

    /// Computes the root hash and returns it with every node created since the trie was opened or
    /// last committed, as `(keccak256(rlp), rlp)`: every such node whose RLP is at least 32 bytes,
    /// plus the root node whatever its size. Persisting these into the store (which already holds
    /// the nodes of the previous root) is exactly what [`Trie::open`] on the returned root needs.
    ///
    /// The trie stays usable and keeps its nodes in memory; reopen it from the store to free them.
    pub fn commit(&mut self) -> (B256, Vec<(B256, Bytes)>) {
        let root = self.root();
        let mut nodes = Vec::new();
        if let NodeRef::Inline(rlp) = self.root.node_ref() {
            // The root is stored under its hash even when it is shorter than 32 bytes.
            if self.root.cache().is_some_and(|c| !c.persisted) {
                nodes.push((root, Bytes::copy_from_slice(rlp.as_slice())));
            }
        }
        collect_new_nodes(&mut self.root, &mut nodes);
        (root, nodes)
    }

    /// A proof for `key` (EIP-1186 style): the RLP of every node on the path from the root towards
    /// `key`, root first, that is stored under its own hash. Nodes inlined in their parent are part
    /// of the parent's RLP, not separate items (as in geth). Works for present keys (inclusion) and
    /// absent ones (exclusion); check it with [`verify_proof`](crate::verify_proof).
    ///
    /// Nodes modified since the last [`root`](Self::root) are hashed on the fly (without caching), so
    /// call `root` first when proving many keys of a modified trie.
    pub fn prove(&self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        let path = KeyNibbles::new(key);
        let mut path: &[u8] = &path;
        let mut proof = Vec::new();
        let mut node = &self.root;
        let mut is_root = true;
        loop {
            let next = match node {
                Node::Empty => None,
                Node::Hash(hash) => {
                    walk_stored(*hash, path, |h| load(&self.store, h), |rlp| proof.push(rlp.clone()))?;
                    None
                }
                Node::Leaf(_) | Node::Extension(_) | Node::Branch(_) => {
                    let mut rlp = Vec::new();
                    node.encode(&mut rlp);
                    if is_root || rlp.len() >= 32 {
                        proof.push(Bytes::from(rlp));
                    }
                    match node {
                        Node::Extension(ext) => {
                            path.strip_prefix(ext.key.as_slice()).map(|rest| (rest, &ext.child))
                        }
                        Node::Branch(branch) => {
                            path.split_first().map(|(&n, rest)| (rest, &branch.children[usize::from(n)]))
                        }
                        _ => None,
                    }
                }
            };
            let Some((rest, child)) = next else { break };
            path = rest;
            node = child;
            is_root = false;
        }
        Ok(proof)
    }
}

/// Reads, checks and returns the RLP of the stored node `hash`.
pub(crate) fn load<S: NodeStore + ?Sized>(store: &S, hash: &B256) -> Result<Bytes, TrieError> {
    let rlp = store.node(hash)?.ok_or(TrieError::NodeNotFound(*hash))?;
    if keccak256(&rlp) != *hash {
        return Err(TrieError::MalformedNode { hash: *hash, reason: "hash mismatch".into() });
    }
    Ok(rlp)
}

/// Loads the stored node `hash` and decodes it into an in-memory node.
fn resolve<S: NodeStore + ?Sized>(store: &S, hash: &B256) -> Result<Node, TrieError> {
    let rlp = load(store, hash)?;
    let node_ref = if rlp.len() < 32 { NodeRef::from_rlp(&rlp) } else { NodeRef::Hash(*hash) };
    Node::decode(&rlp, &rlp, node_ref).map_err(|reason| TrieError::MalformedNode { hash: *hash, reason })
}

/// Looks up `path` below the stored node `hash`, reading through the store.
fn get_stored<S: NodeStore + ?Sized>(store: &S, hash: B256, path: &[u8]) -> Result<Option<Bytes>, TrieError> {
    walk_stored(hash, path, |h| load(store, h), |_| {})
}

/// Walks from the stored node `hash` along `path` using raw node RLP: `load` fetches (and checks)
/// nodes by hash, `on_load` sees each loaded node in order. Returns the value at `path`, if any.
pub(crate) fn walk_stored(
    mut hash: B256,
    mut path: &[u8],
    mut load: impl FnMut(&B256) -> Result<Bytes, TrieError>,
    mut on_load: impl FnMut(&Bytes),
) -> Result<Option<Bytes>, TrieError> {
    loop {
        let rlp = load(&hash)?;
        on_load(&rlp);
        let mut current: &[u8] = &rlp;
        loop {
            let malformed = |reason: String| TrieError::MalformedNode { hash, reason };
            match step(current, path).map_err(malformed)? {
                Step::Found(value) => return Ok(Some(slice_of(&rlp, value))),
                Step::Absent => return Ok(None),
                Step::Child { child, consumed } => {
                    path = &path[consumed..];
                    match child {
                        RawRef::Empty => return Ok(None),
                        RawRef::Inline(inline) => current = inline,
                        RawRef::Hash(child) => {
                            hash = child;
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// Collects `(hash, rlp)` of every not-yet-persisted node of at least 32 bytes below and including
/// `node`, and marks them persisted. References must be up to date (see [`Node::update_refs`]).
fn collect_new_nodes(node: &mut Node, out: &mut Vec<(B256, Bytes)>) {
    let Some(cache) = node.cache_mut() else { return };
    if cache.persisted {
        // Everything below a persisted node is persisted too.
        return;
    }
    cache.persisted = true;
    let node_ref = cache.node_ref;
    match node {
        Node::Extension(ext) => collect_new_nodes(&mut ext.child, out),
        Node::Branch(branch) => {
            for child in &mut branch.children {
                collect_new_nodes(child, out);
            }
        }
        _ => {}
    }
    if let Some(NodeRef::Hash(hash)) = node_ref {
        let mut rlp = Vec::new();
        node.encode(&mut rlp);
        out.push((hash, Bytes::from(rlp)));
    }
}

/// Applies sorted, deduplicated `updates` to the subtrie `node`, whose path from the root is the
/// first `depth` nibbles of every update's key. Returns whether anything changed; every node on a
/// changed path gets its cache cleared and the structure is kept canonical.
fn apply<S: NodeStore + ?Sized>(
    store: &S,
    node: &mut Node,
    updates: &[Update],
    depth: usize,
) -> Result<bool, TrieError> {
    if updates.is_empty() {
        return Ok(false);
    }
    if let Node::Hash(hash) = node {
        *node = resolve(store, hash)?;
    }
    match node {
        Node::Hash(_) => Ok(false), // unreachable: resolved above
        Node::Empty => {
            // Deletes are no-ops here; the inserts are the range between the first and last insert.
            let Some(first) = updates.iter().position(|u| u.value.is_some()) else {
                return Ok(false);
            };
            let last = updates.iter().rposition(|u| u.value.is_some()).unwrap_or(first);
            let updates = &updates[first..=last];
            if let [update] = updates {
                let value = update.value.clone().unwrap_or_default();
                *node = Node::leaf(update.key[depth..].to_vec(), value);
                return Ok(true);
            }
            // The first and last inserts diverge right after their common prefix, so a branch there
            // ends up with at least two entries.
            let first_key = &updates[0].key[depth..];
            let last_key = &updates[updates.len() - 1].key[depth..];
            let common = common_prefix_len(first_key, last_key);
            let prefix = first_key[..common].to_vec();
            let branch = Node::Branch(Box::default());
            *node = build_below(store, prefix, branch, updates, depth)?;
            Ok(true)
        }
        Node::Leaf(leaf) => {
            let key = leaf.key.as_slice();
            let mut exact = None;
            let mut other_insert = false;
            for update in updates {
                if update.key[depth..] == *key {
                    exact = Some(update);
                } else if update.value.is_some() {
                    other_insert = true;
                }
            }
            if !other_insert {
                // At most this leaf's own value changes.
                let Some(update) = exact else { return Ok(false) };
                match &update.value {
                    None => *node = Node::Empty,
                    Some(value) if *value == leaf.value => return Ok(false),
                    Some(value) => {
                        leaf.value = value.clone();
                        leaf.cache = Default::default();
                    }
                }
                return Ok(true);
            }
            // Split: a branch where the leaf's key and the updates diverge.
            let common = common_prefix_with_all(key, updates, depth);
            let leaf = core::mem::take(node);
            let Node::Leaf(leaf) = leaf else { return Ok(false) };
            let mut branch = Box::<BranchNode>::default();
            match leaf.key.get(common) {
                None => branch.value = Some(leaf.value),
                Some(&n) => {
                    branch.children[usize::from(n)] = Node::leaf(leaf.key[common + 1..].to_vec(), leaf.value);
                }
            }
            let prefix = leaf.key[..common].to_vec();
            *node = build_below(store, prefix, Node::Branch(branch), updates, depth)?;
            Ok(true)
        }
        Node::Extension(ext) => {
            let key = ext.key.as_slice();
            let mut matching = None::<(usize, usize)>;
            let mut other_insert = false;
            for (i, update) in updates.iter().enumerate() {
                if update.key[depth..].starts_with(key) {
                    matching = Some(matching.map_or((i, i), |(first, _)| (first, i)));
                } else if update.value.is_some() {
                    other_insert = true;
                }
            }
            if !other_insert {
                // Keys sharing the extension's path are contiguous in sorted order.
                let Some((first, last)) = matching else { return Ok(false) };
                let changed = apply(store, &mut ext.child, &updates[first..=last], depth + key.len())?;
                if changed {
                    if let Node::Branch(_) = ext.child {
                        ext.cache = Default::default();
                    } else {
                        // The child collapsed into a leaf, an extension or nothing: absorb it.
                        let ext = core::mem::take(node);
                        let Node::Extension(ext) = ext else { return Ok(false) };
                        *node = with_prefix(ext.key, ext.child);
                    }
                }
                return Ok(changed);
            }
            // Split: a branch where the extension's path and the updates diverge.
            let common = common_prefix_with_all(key, updates, depth);
            let ext = core::mem::take(node);
            let Node::Extension(ext) = ext else { return Ok(false) };
            let mut branch = Box::<BranchNode>::default();
            if let Some(&n) = ext.key.get(common) {
                let rest = &ext.key[common + 1..];
                branch.children[usize::from(n)] =
                    if rest.is_empty() { ext.child } else { Node::extension(rest.to_vec(), ext.child) };
            }
            let prefix = ext.key[..common].to_vec();
            *node = build_below(store, prefix, Node::Branch(branch), updates, depth)?;
            Ok(true)
        }
        Node::Branch(branch) => {
            let changed = apply_to_branch(store, branch, updates, depth)?;
            if changed {
                branch.cache = Default::default();
                normalize_branch(store, node)?;
            }
            Ok(changed)
        }
    }
}

/// Applies `updates` (which all share `prefix` after `depth`) to `branch`, a branch node placed at
/// `depth + prefix.len()`, and returns the resulting (canonical) subtrie for position `depth`.
fn build_below<S: NodeStore + ?Sized>(
    store: &S,
    prefix: Vec<u8>,
    mut branch: Node,
    updates: &[Update],
    depth: usize,
) -> Result<Node, TrieError> {
    if let Node::Branch(b) = &mut branch {
        apply_to_branch(store, b, updates, depth + prefix.len())?;
    }
    normalize_branch(store, &mut branch)?;
    Ok(with_prefix(prefix, branch))
}

/// Length of the longest common prefix of `key` and every update's key after `depth`.
///
/// Updates are sorted, so the prefix shared with all of them is the one shared with the first and
/// the last.
fn common_prefix_with_all(key: &[u8], updates: &[Update], depth: usize) -> usize {
    let first = updates.first().map_or(key.len(), |u| common_prefix_len(key, &u.key[depth..]));
    let last = updates.last().map_or(key.len(), |u| common_prefix_len(key, &u.key[depth..]));
    first.min(last)
}

/// Applies `updates` to the entries of a branch at `depth`; does not normalize the branch.
fn apply_to_branch<S: NodeStore + ?Sized>(
    store: &S,
    branch: &mut BranchNode,
    mut updates: &[Update],
    depth: usize,
) -> Result<bool, TrieError> {
    let mut changed = false;
    // In sorted order, a key ending exactly at this branch comes first.
    if let Some((update, rest)) = updates.split_first() {
        if update.key.len() == depth {
            if branch.value != update.value {
                branch.value = update.value.clone();
                changed = true;
            }
            updates = rest;
        }
    }
    while let Some(first) = updates.first() {
        let nibble = first.key[depth];
        let end = updates.iter().position(|u| u.key[depth] != nibble).unwrap_or(updates.len());
        let (group, rest) = updates.split_at(end);
        changed |= apply(store, &mut branch.children[usize::from(nibble)], group, depth + 1)?;
        updates = rest;
    }
    Ok(changed)
}

/// Restores the canonical form of a modified branch: a branch with no entries becomes empty, one
/// with a single entry merges it into a leaf or extension (loading the remaining child if needed).
fn normalize_branch<S: NodeStore + ?Sized>(store: &S, node: &mut Node) -> Result<(), TrieError> {
    let Node::Branch(branch) = node else { return Ok(()) };
    let mut children = branch.children.iter().enumerate().filter(|(_, c)| !matches!(c, Node::Empty));
    let only_child = match (children.next(), children.next()) {
        (None, _) => None,
        (Some((i, _)), None) => Some(i),
        (Some(_), Some(_)) => return Ok(()),
    };
    match (only_child, branch.value.take()) {
        (None, None) => *node = Node::Empty,
        (None, Some(value)) => *node = Node::leaf(Vec::new(), value),
        (Some(_), Some(value)) => branch.value = Some(value),
        (Some(i), None) => {
            let mut child = core::mem::take(&mut branch.children[i]);
            if let Node::Hash(hash) = &child {
                child = resolve(store, hash)?;
            }
            // `i < 16`, so it is a valid nibble.
            *node = with_prefix(alloc::vec![i as u8], child);
        }
    }
    Ok(())
}

/// The subtrie `child` placed below the nibbles `prefix`, in canonical form: no extension for an
/// empty prefix, a leaf or extension child absorbs the prefix, an empty child stays empty.
fn with_prefix(prefix: Vec<u8>, child: Node) -> Node {
    if prefix.is_empty() {
        return child;
    }
    match child {
        Node::Empty => Node::Empty,
        Node::Leaf(mut leaf) => {
            leaf.key = concat(&prefix, &leaf.key);
            leaf.cache = Default::default();
            Node::Leaf(leaf)
        }
        Node::Extension(mut ext) => {
            ext.key = concat(&prefix, &ext.key);
            ext.cache = Default::default();
            Node::Extension(ext)
        }
        child @ (Node::Branch(_) | Node::Hash(_)) => Node::extension(prefix, child),
    }
}
