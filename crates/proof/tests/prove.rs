//! The proof client judges every block of a chain built by `keel node` (transfers, deployments, an ERC-20
//! transfer, logs, a reverting call, a self-destruct) with the host serving a datadir: the true output root is
//! valid, a flipped bit or the neighbouring block's output root is invalid, and the sequence of oracle requests
//! is the same on every run.
#![allow(clippy::unwrap_used)]

use alloy_primitives::{hex, keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_rpc_types_eth::TransactionRequest;
use keel_node::{Mining, Node, NodeConfig};
use keel_preimage::{Hint, PreimageError, PreimageKey};
use keel_primitives::DevGenesis;
use keel_proof::{run_client, BootValues, DatadirHost, LoopbackOracle, Oracle, Verdict};

/// The in-process oracle, recording the keys asked for.
struct Recorder<'h> {
    inner: LoopbackOracle<'h>,
    requests: Vec<PreimageKey>,
}

impl Oracle for Recorder<'_> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        self.requests.push(key);
        self.inner.get(key)
    }

    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        self.inner.hint(hint)
    }
}

fn bytecode(name: &str) -> Vec<u8> {
    let path = format!("{}/../../contracts/out/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

fn send(node: &Node, from: Address, to: Option<Address>, input: Vec<u8>, value: u64) -> B256 {
    let request = TransactionRequest {
        from: Some(from),
        to: Some(to.map_or(TxKind::Create, TxKind::Call)),
        value: Some(U256::from(value)),
        input: Bytes::from(input).into(),
        gas: Some(3_000_000),
        ..Default::default()
    };
    node.send_transaction(request).unwrap()
}

fn word(value: U256) -> [u8; 32] {
    value.to_be_bytes()
}

fn judge(host: &mut DatadirHost, boot: BootValues) -> (Verdict, Vec<PreimageKey>) {
    let mut oracle = Recorder { inner: LoopbackOracle { host, boot }, requests: Vec::new() };
    let verdict = run_client(&mut oracle).unwrap();
    (verdict, oracle.requests)
}

/// A dev node (automine) in a fresh datadir, with its chain spec and the spec's JSON.
fn dev_node() -> (tempfile::TempDir, Node, keel_primitives::ChainSpec, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = DevGenesis::default().chain_spec().unwrap();
    let spec_json = serde_json::to_string(spec.genesis()).unwrap();
    let node = Node::open(&NodeConfig {
        datadir: Some(dir.path().join("datadir")),
        mining: Mining::Auto,
        ..NodeConfig::default()
    })
    .unwrap();
    (dir, node, spec, spec_json)
}

#[test]
fn every_block_of_a_mixed_chain_proves_valid_and_wrong_claims_invalid() {
    let (_dir, node, spec, spec_json) = dev_node();
    let accounts = node.accounts().to_vec();
    let (alice, bob) = (accounts[0], accounts[1]);

    send(&node, alice, Some(bob), Vec::new(), 1_000_000_000);
    let mut token_init = bytecode("Token");
    token_init.extend_from_slice(&word(U256::from(1_000_000u64)));
    send(&node, alice, None, token_init, 0);
    let token = alice.create(2);
    let mut transfer = hex::decode("a9059cbb").unwrap();
    transfer.extend_from_slice(&word(U256::from_be_slice(bob.as_slice())));
    transfer.extend_from_slice(&word(U256::from(250u64)));
    send(&node, alice, Some(token), transfer, 0);
    send(&node, alice, None, bytecode("Events"), 0);
    let events = alice.create(4);
    let store = |key: u64, value: u64| {
        let mut call = keccak256("store(uint256,uint256)")[..4].to_vec();
        call.extend_from_slice(&word(U256::from(key)));
        call.extend_from_slice(&word(U256::from(value)));
        call
    };
    send(&node, bob, Some(events), store(1, 11), 0);
    // Reverts (TooLarge) but is mined with status 0.
    send(&node, bob, Some(events), store(9, 5000), 0);
    // A contract whose code is CALLER SELFDESTRUCT, deployed and called.
    send(&node, alice, None, hex::decode("6133ff6000526002601ef3").unwrap(), 0);
    let doomed = alice.create(7);
    send(&node, alice, Some(doomed), Vec::new(), 5);

    let head = node.chain().head().unwrap().number;
    assert_eq!(head, 8);
    let mut host = DatadirHost::new(node.chain().store().snapshot().unwrap()).with_spec(spec.clone());
    for number in 1..=head {
        let boot = host.boot_for_block(number, spec.chain_id(), spec_json.clone(), None).unwrap();
        let (verdict, _) = judge(&mut host, boot.clone());
        assert_eq!(verdict, Verdict::Valid { output_root: boot.claimed_output }, "block {number}");

        let mut flipped = boot.clone();
        flipped.claimed_output.0[31] ^= 1;
        let (verdict, _) = judge(&mut host, flipped);
        assert!(
            matches!(verdict, Verdict::Invalid { output_root: Some(root), .. } if root == boot.claimed_output),
            "block {number}: {verdict:?}"
        );

        if number < head {
            let mut neighbour = boot.clone();
            neighbour.claimed_output = host
                .output_root(
                    node.chain().store().snapshot().unwrap().canonical_hash(number + 1).unwrap().unwrap(),
                )
                .unwrap();
            let (verdict, _) = judge(&mut host, neighbour);
            assert!(matches!(verdict, Verdict::Invalid { .. }), "block {number}: {verdict:?}");
        }
    }

    // Determinism: the same claim asks for the same preimages in the same order, every time.
    let boot = host.boot_for_block(5, spec.chain_id(), spec_json.clone(), None).unwrap();
    let runs: Vec<B256> = (0..3)
        .map(|_| {
            let (_, requests) = judge(&mut host, boot.clone());
            keccak256(requests.iter().flat_map(|k| k.as_bytes().to_vec()).collect::<Vec<u8>>())
        })
        .collect();
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "{runs:?}");

    // A claim about a block before the agreed one is invalid.
    let mut backwards = boot.clone();
    backwards.claimed_number = 3;
    let (verdict, _) = judge(&mut host, backwards);
    assert!(matches!(verdict, Verdict::Invalid { output_root: None, .. }), "{verdict:?}");
}

/// A datadir whose stored state was corrupted (one trie node of the pre-state overwritten): the host never serves
/// the altered bytes as a preimage, and the client fails instead of judging — never a valid verdict.
#[test]
fn a_corrupted_store_never_proves_valid() {
    let (_dir, node, spec, spec_json) = dev_node();
    let accounts = node.accounts().to_vec();
    send(&node, accounts[0], Some(accounts[1]), Vec::new(), 1);
    send(&node, accounts[1], Some(accounts[2]), Vec::new(), 2);
    let store = node.chain().store();
    // The true claim about block 2, taken before the corruption (as an honest challenger would have it).
    let boot = DatadirHost::new(store.snapshot().unwrap())
        .boot_for_block(2, spec.chain_id(), spec_json, None)
        .unwrap();
    let parent = store.snapshot().unwrap().header_by_number(1).unwrap().unwrap();
    // Overwrite the root node of block 2's pre-state with other (well-formed) bytes.
    let mut batch = keel_store::WriteBatch::default();
    batch.put(
        keel_store::Table::TrieNodes,
        parent.state_root.as_slice(),
        alloy_rlp::encode(vec![Bytes::from_static(b"x"); 17]),
    );
    store.kv().write(batch).unwrap();
    let mut host = DatadirHost::new(store.snapshot().unwrap()).with_spec(spec.clone());
    let mut oracle = LoopbackOracle { host: &mut host, boot };
    match run_client(&mut oracle) {
        Ok(Verdict::Valid { .. }) => panic!("a corrupted store proved valid"),
        Ok(Verdict::Invalid { .. }) | Err(_) => {}
    }
}
