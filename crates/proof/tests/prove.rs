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
    dev_node_mining(Mining::Auto)
}

fn dev_node_mining(mining: Mining) -> (tempfile::TempDir, Node, keel_primitives::ChainSpec, String) {
    let dir = tempfile::tempdir().unwrap();
    let spec = DevGenesis::default().chain_spec().unwrap();
    let spec_json = serde_json::to_string(spec.genesis()).unwrap();
    let node = Node::open(&NodeConfig {
        datadir: Some(dir.path().join("datadir")),
        mining,
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
    let token = alice.create(1);
    let mut transfer = hex::decode("a9059cbb").unwrap();
    transfer.extend_from_slice(&word(U256::from_be_slice(bob.as_slice())));
    transfer.extend_from_slice(&word(U256::from(250u64)));
    send(&node, alice, Some(token), transfer, 0);
    send(&node, alice, None, bytecode("Events"), 0);
    let events = alice.create(3);
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
    let doomed = alice.create(4);
    send(&node, alice, Some(doomed), Vec::new(), 5);

    let head = node.chain().head().unwrap().number;
    assert_eq!(head, 8);
    let snapshot = node.chain().store().snapshot().unwrap();
    for contract in [token, events] {
        assert!(snapshot
            .account(contract)
            .unwrap()
            .is_some_and(|a| a.code_hash != keel_primitives::EMPTY_CODE_HASH));
    }
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

    // A claim spanning two blocks (agreed on block 3, claiming block 5): both executed in turn.
    let mut spanning = boot.clone();
    spanning.agreed_hash = node.chain().store().snapshot().unwrap().canonical_hash(3).unwrap().unwrap();
    spanning.agreed_output = host.output_root(spanning.agreed_hash).unwrap();
    let (verdict, _) = judge(&mut host, spanning.clone());
    assert_eq!(verdict, Verdict::Valid { output_root: boot.claimed_output });
    spanning.claimed_output.0[0] ^= 0x80;
    let (verdict, _) = judge(&mut host, spanning);
    assert!(
        matches!(verdict, Verdict::Invalid { output_root: Some(root), .. } if root == boot.claimed_output)
    );

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

/// The sandbox policy is part of the chain spec the client receives: a block whose transaction violated the policy
/// (and so reverted) proves valid, and the output root of the same block executed without the policy — where the
/// transaction succeeds — is rejected.
#[test]
fn the_client_enforces_the_chains_sandbox_policy() {
    use keel_evm::{keel_policy::PolicyConfig, BlockExecutor, ExecutionConfig, TxOutcome};
    let dir = tempfile::tempdir().unwrap();
    let alice = DevGenesis::default().dev_accounts().unwrap()[0].address;
    let plugin = alice.create(0);
    let policy = PolicyConfig::from_toml(
        "test",
        &format!("[[rule]]\nname = \"no storage\"\naddress = \"{plugin}\"\ndeny = [\"SSTORE\"]\n"),
    )
    .unwrap();
    let spec = DevGenesis::default().chain_spec().unwrap().with_policy(&policy).unwrap();
    let spec_json = serde_json::to_string(spec.genesis()).unwrap();
    let node = Node::open(&NodeConfig {
        datadir: Some(dir.path().join("datadir")),
        mining: Mining::Auto,
        policy: Some(policy),
        ..NodeConfig::default()
    })
    .unwrap();
    let deployed = send(&node, alice, None, bytecode("Plugin"), 0);
    {
        let snapshot = node.chain().store().snapshot().unwrap();
        let at = snapshot.tx_location(deployed).unwrap().unwrap();
        let receipts = snapshot.receipts(at.block_hash).unwrap().unwrap();
        assert!(alloy_consensus::TxReceipt::status(&receipts[at.index as usize]), "deploying: {receipts:?}");
    }
    // store(bytes32,uint256): denied by the rule, so the transaction is mined with status 0.
    let mut store = keccak256("store(bytes32,uint256)")[..4].to_vec();
    store.extend_from_slice(&word(U256::from(1)));
    store.extend_from_slice(&word(U256::from(7)));
    let tx = send(&node, alice, Some(plugin), store, 0);
    let snapshot = std::sync::Arc::new(node.chain().store().snapshot().unwrap());
    let location = snapshot.tx_location(tx).unwrap().unwrap();
    let receipts = snapshot.receipts(location.block_hash).unwrap().unwrap();
    assert!(
        !alloy_consensus::TxReceipt::status(&receipts[location.index as usize]),
        "the violation reverted: {receipts:?}"
    );

    let mut host = DatadirHost::new(node.chain().store().snapshot().unwrap()).with_spec(spec.clone());
    let number = snapshot.header(location.block_hash).unwrap().unwrap().number;
    let boot = host.boot_for_block(number, spec.chain_id(), spec_json.clone(), None).unwrap();
    let (verdict, _) = judge(&mut host, boot.clone());
    assert_eq!(verdict, Verdict::Valid { output_root: boot.claimed_output });

    // The same block executed without the policy: the store succeeds, so the state (and the header) differ.
    let header = snapshot.header(location.block_hash).unwrap().unwrap();
    let parent = snapshot.header(header.parent_hash).unwrap().unwrap();
    let body = snapshot.body(location.block_hash).unwrap().unwrap();
    let txs = keel_evm::recover_transactions(&body.transactions).unwrap();
    let provider = keel_node::StateView::at_root(snapshot.clone(), parent.state_root);
    let config = ExecutionConfig { policy: None, ..ExecutionConfig::for_header(&spec, &header) };
    let mut executor = BlockExecutor::new(config, &header, provider).unwrap();
    executor.apply_pre_block_calls().unwrap();
    for tx in &txs {
        let outcome = executor.execute_transaction(tx).unwrap();
        assert!(matches!(outcome, TxOutcome::Included { ref receipt, .. } if receipt.success), "{outcome:?}");
    }
    let requests = executor.apply_post_block_calls(spec.genesis().config.deposit_contract_address).unwrap();
    let executed = executor.finish(parent.state_root, Some(requests)).unwrap();
    assert_ne!(executed.state_root, header.state_root, "the policy changed the outcome");
    let mut unconfined = header.clone();
    unconfined.state_root = executed.state_root;
    unconfined.receipts_root = executed.receipts_root;
    unconfined.logs_bloom = executed.logs_bloom;
    unconfined.gas_used = executed.gas_used;
    let claim = keel_primitives::output_root(
        executed.state_root,
        keel_primitives::EMPTY_ROOT_HASH,
        unconfined.hash_slow(),
    );
    let mut wrong = boot.clone();
    wrong.claimed_output = claim;
    let (verdict, _) = judge(&mut host, wrong);
    assert!(
        matches!(verdict, Verdict::Invalid { output_root: Some(root), .. } if root == boot.claimed_output),
        "{verdict:?}"
    );
}

/// Counts the oracle's round trips: one per `get`, one per window of a pipelined `get_many`.
struct RoundTrips<'h> {
    inner: LoopbackOracle<'h>,
    preimages: usize,
    round_trips: usize,
}

impl Oracle for RoundTrips<'_> {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        self.preimages += 1;
        self.round_trips += 1;
        self.inner.get(key)
    }

    fn get_many(&mut self, keys: &[PreimageKey]) -> Result<Vec<Vec<u8>>, PreimageError> {
        self.preimages += keys.len();
        self.round_trips += keys.len().div_ceil(keel_preimage::PIPELINE_WINDOW);
        keys.iter().map(|key| self.inner.get(*key)).collect()
    }

    fn hint(&mut self, hint: &Hint) -> Result<(), PreimageError> {
        self.round_trips += 1;
        self.inner.hint(hint)
    }
}

/// A block of 120 transfers to fresh addresses: its transactions and the accounts it touches arrive a trie level
/// per round trip, not a node per round trip.
#[test]
fn a_block_s_transactions_and_accounts_are_fetched_in_batches() {
    let (_dir, node, spec, spec_json) = dev_node_mining(Mining::Manual);
    let accounts = node.accounts().to_vec();
    for i in 0..120u64 {
        let to = Address::from_word(keccak256(i.to_be_bytes()));
        send(&node, accounts[(i % 10) as usize], Some(to), Vec::new(), 1 + i);
    }
    node.mine(1, None).unwrap();
    let head = node.chain().head().unwrap();
    assert_eq!(head.number, 1);
    let mut host = DatadirHost::new(node.chain().store().snapshot().unwrap()).with_spec(spec.clone());
    let boot = host.boot_for_block(1, spec.chain_id(), spec_json, None).unwrap();
    let mut oracle = RoundTrips {
        inner: LoopbackOracle { host: &mut host, boot: boot.clone() },
        preimages: 0,
        round_trips: 0,
    };
    let verdict = run_client(&mut oracle).unwrap();
    assert_eq!(verdict, Verdict::Valid { output_root: boot.claimed_output });
    let (preimages, round_trips) = (oracle.preimages, oracle.round_trips);
    // 120 transaction leaves alone are 120 preimages; the round trips stay a small fraction.
    assert!(preimages > 150, "{preimages} preimages");
    assert!(round_trips * 4 < preimages, "{round_trips} round trips for {preimages} preimages");
}

/// Serves nothing but one block's execution witness and the boot values (what a node over RPC or a recording
/// holds).
struct WitnessOnly {
    values: std::collections::BTreeMap<PreimageKey, Vec<u8>>,
}

impl Oracle for WitnessOnly {
    fn get(&mut self, key: PreimageKey) -> Result<Vec<u8>, PreimageError> {
        self.values.get(&key).cloned().ok_or(PreimageError::Missing { key })
    }

    fn hint(&mut self, _: &Hint) -> Result<(), PreimageError> {
        Ok(())
    }
}

/// Every account path the client fetches ahead is in the block's execution witness — also the fee recipient's in
/// an empty block, which execution never reads.
#[test]
fn an_empty_block_proves_valid_from_its_witness_alone() {
    let (_dir, node, spec, spec_json) = dev_node_mining(Mining::Manual);
    let accounts = node.accounts().to_vec();
    // Fees paid to the fee recipient give it an account (a leaf node of its own) before the empty block.
    for i in 0..20u64 {
        send(&node, accounts[(i % 10) as usize], Some(Address::repeat_byte(i as u8 + 1)), Vec::new(), 1);
    }
    node.mine(1, None).unwrap();
    node.mine(1, None).unwrap();
    let snapshot = node.chain().store().snapshot().unwrap();
    let empty = snapshot.canonical_hash(2).unwrap().unwrap();
    let header = snapshot.header(empty).unwrap().unwrap();
    assert!(snapshot.body(empty).unwrap().unwrap().transactions.is_empty());
    assert!(snapshot.account(header.beneficiary).unwrap().is_some(), "the fee recipient has an account");
    let host = DatadirHost::new(node.chain().store().snapshot().unwrap()).with_spec(spec.clone());
    let boot = host.boot_for_block(2, spec.chain_id(), spec_json, None).unwrap();
    let mut values: std::collections::BTreeMap<PreimageKey, Vec<u8>> =
        host.witness(empty).unwrap().into_iter().map(|v| (PreimageKey::keccak(&v), v.to_vec())).collect();
    for index in 1..=7 {
        if let Some(value) = boot.local(index) {
            values.insert(PreimageKey::local(index), value);
        }
    }
    let verdict = run_client(&mut WitnessOnly { values }).unwrap();
    assert_eq!(verdict, Verdict::Valid { output_root: boot.claimed_output });
}
