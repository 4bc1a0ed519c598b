//! The wire protocol against PREIMAGE.md's hand-written vectors (both directions), and the framing under
//! truncation, oversized prefixes and wrong preimages (property tests: never a panic, always the named error).
#![allow(clippy::unwrap_used)]

use alloy_primitives::hex;
use keel_preimage::{
    serve_hints, serve_preimages, Hint, HintType, HintWriter, KvDirectory, Limits, OracleClient,
    PreimageError, PreimageKey,
};
use proptest::prelude::*;
use std::io::Cursor;

fn key_hex(key: &PreimageKey) -> String {
    hex::encode(key.as_bytes())
}

#[test]
fn key_vectors() {
    assert_eq!(
        key_hex(&PreimageKey::keccak(b"hello")),
        "028aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"
    );
    assert_eq!(
        key_hex(&PreimageKey::sha256(b"hello")),
        "04f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(key_hex(&PreimageKey::local(4)), format!("01{}{}", "00".repeat(23), "0000000000000004"));
    assert_eq!(PreimageKey::local(4).local_index(), Some(4));
    for (byte, ok) in [
        (0u8, false),
        (1, true),
        (2, true),
        (3, false),
        (4, true),
        (5, true),
        (6, true),
        (7, false),
        (255, false),
    ] {
        let mut raw = [0u8; 32];
        raw[0] = byte;
        assert_eq!(PreimageKey::from_bytes(raw).is_ok(), ok, "type {byte}");
    }
}

#[test]
fn exchange_vector_both_directions() {
    let key = PreimageKey::keccak(b"hello");
    // Host side: the request bytes in, the documented reply out.
    let mut reply = Vec::new();
    let served = serve_preimages(Cursor::new(key.as_bytes().to_vec()), &mut reply, Limits::default(), |k| {
        assert_eq!(k, key);
        Ok(Some(b"hello".to_vec()))
    })
    .unwrap();
    assert_eq!(served, 1);
    assert_eq!(hex::encode(&reply), "000000000000000568656c6c6f");
    // Client side: the documented reply in, the key out.
    let mut request = Vec::new();
    let mut client = OracleClient::new(Cursor::new(reply), &mut request, Limits::default());
    assert_eq!(client.get(key).unwrap(), b"hello");
    drop(client);
    assert_eq!(request, key.as_bytes().to_vec());
}

#[test]
fn empty_value_and_clean_end() {
    let key = PreimageKey::keccak(b"");
    let mut client = OracleClient::new(Cursor::new(vec![0u8; 8]), Vec::new(), Limits::default());
    assert_eq!(client.get(key).unwrap(), Vec::<u8>::new());
    // A host with nothing to say for the next key has closed the stream: the key is missing.
    assert!(matches!(client.get(key), Err(PreimageError::Missing { .. })));
}

#[test]
fn hint_vectors_both_directions() {
    let hash = [0xab; 32];
    let hint = Hint::new(HintType::Header, hash.to_vec()).unwrap();
    assert_eq!(hint.encode(), format!("header 0x{}", "ab".repeat(32)));
    let mut wire = Vec::new();
    let mut writer = HintWriter::new(Cursor::new(vec![0u8]), &mut wire);
    writer.hint(&hint).unwrap();
    drop(writer);
    let text = hint.encode();
    let mut expected = (text.len() as u32).to_be_bytes().to_vec();
    expected.extend_from_slice(text.as_bytes());
    assert_eq!(wire, expected);
    // Host: reads it, hands over the text, acks with one zero byte.
    let mut acks = Vec::new();
    let mut seen = Vec::new();
    let count =
        serve_hints(Cursor::new(wire), &mut acks, Limits::default(), |h| seen.push(h.to_string())).unwrap();
    assert_eq!((count, acks), (1, vec![0u8]));
    assert_eq!(Hint::parse(&seen[0]).unwrap(), hint);
    // Payload lengths are fixed per type; type names and hex are checked.
    for bad in [
        "header 0xabcd",
        "nonsense 0x00",
        &format!("header {}", "ab".repeat(32)),
        &format!("header 0x{}", "AB".repeat(32)),
        "header",
    ] {
        assert!(matches!(Hint::parse(bad), Err(PreimageError::BadHint { .. })), "{bad}");
    }
    let proof = format!("storage-proof 0x{}", "11".repeat(84));
    assert_eq!(Hint::parse(&proof).unwrap().kind, HintType::StorageProof);
}

#[test]
fn a_wrong_preimage_is_refused_by_client_and_host() {
    let key = PreimageKey::keccak(b"hello");
    let mut forged = 5u64.to_be_bytes().to_vec();
    forged.extend_from_slice(b"jello");
    let mut client = OracleClient::new(Cursor::new(forged), Vec::new(), Limits::default());
    assert!(matches!(client.get(key), Err(PreimageError::WrongPreimage { .. })));
    let err = serve_preimages(Cursor::new(key.as_bytes().to_vec()), Vec::new(), Limits::default(), |_| {
        Ok(Some(b"jello".to_vec()))
    })
    .unwrap_err();
    assert!(matches!(err, PreimageError::WrongPreimage { .. }), "{err}");
    // Local keys cannot be checked; sha256 keys are.
    let sha = PreimageKey::sha256(b"hello");
    assert!(sha.matches(b"hello") && !sha.matches(b"hellO"));
}

/// A writer that keeps a copy of everything written through it, and counts the writes.
struct Tee<W> {
    inner: W,
    copy: std::sync::Arc<std::sync::Mutex<(Vec<u8>, usize)>>,
}

impl<W: std::io::Write> std::io::Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let mut copy = self.copy.lock().unwrap();
        copy.0.extend_from_slice(&buf[..n]);
        copy.1 += 1;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Pipelined requests over real pipes: far more keys and reply bytes than the pipes hold (no deadlock: the run
/// must end within a minute), values in order, exactly the bytes one `get` per key would have written, and the keys
/// written a window at a time.
#[test]
fn pipelined_requests_are_the_same_bytes_and_never_deadlock() {
    let values: Vec<Vec<u8>> =
        (0..1000u32).map(|i| vec![(i % 251) as u8; 1000 + (i as usize % 700)]).collect();
    let keys: Vec<PreimageKey> = values.iter().map(|v| PreimageKey::keccak(v)).collect();
    let by_key: std::collections::HashMap<PreimageKey, Vec<u8>> =
        keys.iter().copied().zip(values.iter().cloned()).collect();
    let (key_read, key_write) = std::io::pipe().unwrap();
    let (reply_read, reply_write) = std::io::pipe().unwrap();
    let host = std::thread::spawn(move || {
        serve_preimages(key_read, reply_write, Limits::default(), |k| Ok(by_key.get(&k).cloned()))
    });
    let wire = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), 0)));
    let (finished, outcome) = std::sync::mpsc::channel();
    let client_wire = wire.clone();
    let client_keys = keys.clone();
    std::thread::spawn(move || {
        let mut client =
            OracleClient::new(reply_read, Tee { inner: key_write, copy: client_wire }, Limits::default());
        let many = client.get_many(&client_keys);
        let one = client.get(client_keys[7]);
        let stats = client.stats();
        drop(client);
        let _ = finished.send((many, one, stats));
    });
    let (many, one, stats) =
        outcome.recv_timeout(std::time::Duration::from_secs(60)).expect("the pipelined exchange deadlocked");
    assert_eq!(many.unwrap(), values);
    assert_eq!(one.unwrap(), values[7], "a single get after a batch");
    assert_eq!(stats.0, 1001);
    assert_eq!(host.join().unwrap().unwrap(), 1001);
    let (bytes, writes) = wire.lock().unwrap().clone();
    let expected: Vec<u8> = keys.iter().chain([&keys[7]]).flat_map(|k| k.as_bytes().to_vec()).collect();
    assert_eq!(bytes, expected);
    let windows = keys.len().div_ceil(keel_preimage::PIPELINE_WINDOW);
    assert_eq!(writes, windows + 1, "one write per window of keys, then one for the single get");
}

/// A host that knows nothing of pipelining — reads one 32-byte key at a time straight from the pipe and writes the
/// length prefix and the value in two unbuffered writes, as a plain op-program-style host does — serves a pipelined
/// client.
#[test]
fn a_one_key_at_a_time_host_serves_a_pipelined_client() {
    use std::io::{Read, Write};
    let values: Vec<Vec<u8>> = (0..300u32).map(|i| vec![(i % 7) as u8; 64 + i as usize * 3]).collect();
    let keys: Vec<PreimageKey> = values.iter().map(|v| PreimageKey::keccak(v)).collect();
    let by_key: std::collections::HashMap<PreimageKey, Vec<u8>> =
        keys.iter().copied().zip(values.iter().cloned()).collect();
    let (mut key_read, key_write) = std::io::pipe().unwrap();
    let (reply_read, mut reply_write) = std::io::pipe().unwrap();
    let host = std::thread::spawn(move || {
        let mut raw = [0u8; 32];
        let mut served = 0;
        while key_read.read_exact(&mut raw).is_ok() {
            let value = &by_key[&PreimageKey::from_bytes(raw).unwrap()];
            reply_write.write_all(&(value.len() as u64).to_be_bytes()).unwrap();
            reply_write.write_all(value).unwrap();
            served += 1;
        }
        served
    });
    let (finished, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut client = OracleClient::new(reply_read, key_write, Limits::default());
        let _ = finished.send(client.get_many(&keys));
    });
    let got = outcome.recv_timeout(std::time::Duration::from_secs(60)).expect("the exchange deadlocked");
    assert_eq!(got.unwrap(), values);
    assert_eq!(host.join().unwrap(), 300);
}

/// A key the host cannot serve in the middle of a window: the values before it arrive, the call fails naming it.
#[test]
fn a_missing_key_in_a_pipelined_window_is_named() {
    let known: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 40]).collect();
    let mut keys: Vec<PreimageKey> = known.iter().map(|v| PreimageKey::keccak(v)).collect();
    let unknown = PreimageKey::keccak(b"nobody has this");
    keys.insert(5, unknown);
    let (key_read, key_write) = std::io::pipe().unwrap();
    let (reply_read, reply_write) = std::io::pipe().unwrap();
    let host = std::thread::spawn(move || {
        serve_preimages(key_read, reply_write, Limits::default(), |k| {
            Ok(known.iter().find(|v| PreimageKey::keccak(v) == k).cloned())
        })
    });
    let mut client = OracleClient::new(reply_read, key_write, Limits::default());
    let err = client.get_many(&keys).unwrap_err();
    assert!(matches!(err, PreimageError::Missing { key } if key == unknown), "{err}");
    assert_eq!(client.stats().0, 5, "the five values before the missing key were served");
    drop(client);
    assert!(matches!(host.join().unwrap(), Err(PreimageError::Missing { key }) if key == unknown));
}

#[test]
fn oversized_prefixes_are_refused_before_allocating() {
    let key = PreimageKey::local(1);
    let limits = Limits { max_value: 1024, max_hint: 16 };
    let mut client = OracleClient::new(Cursor::new(u64::MAX.to_be_bytes().to_vec()), Vec::new(), limits);
    let err = client.get(key).unwrap_err();
    assert!(matches!(err, PreimageError::Oversized { length: u64::MAX, .. }), "{err}");
    let mut hint = 17u32.to_be_bytes().to_vec();
    hint.extend_from_slice(&[b'x'; 17]);
    let err = serve_hints(Cursor::new(hint), Vec::new(), limits, |_| {}).unwrap_err();
    assert!(matches!(err, PreimageError::Oversized { what: "hint", .. }), "{err}");
}

#[test]
fn directory_round_trip_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = KvDirectory::create(dir.path()).unwrap();
    let key = PreimageKey::keccak(b"hello");
    store.put(&key, b"hello").unwrap();
    let name = key_hex(&key);
    let file = dir.path().join(&name[..4]).join(format!("{}.txt", &name[4..]));
    assert_eq!(std::fs::read_to_string(file).unwrap(), "68656c6c6f");
    assert_eq!(std::fs::read_to_string(dir.path().join("kvformat")).unwrap(), "directory");
    let reopened = KvDirectory::open(dir.path()).unwrap();
    assert_eq!(reopened.get(&key).unwrap(), Some(b"hello".to_vec()));
    assert_eq!(reopened.get(&PreimageKey::keccak(b"other")).unwrap(), None);
    std::fs::write(dir.path().join("kvformat"), "pebble").unwrap();
    assert!(KvDirectory::open(dir.path()).is_err());
}

proptest! {
    /// Any prefix of a valid reply stream is either fully served or a clean `Truncated` / `Missing` error.
    #[test]
    fn truncated_replies_are_errors_not_panics(value in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..320) {
        let key = PreimageKey::keccak(&value);
        let mut reply = (value.len() as u64).to_be_bytes().to_vec();
        reply.extend_from_slice(&value);
        let cut = cut.min(reply.len());
        let mut client = OracleClient::new(Cursor::new(reply[..cut].to_vec()), Vec::new(), Limits::default());
        match client.get(key) {
            Ok(got) => prop_assert!(cut == reply.len() && got == value),
            Err(PreimageError::Missing { .. }) => prop_assert_eq!(cut, 0),
            Err(PreimageError::Truncated { .. }) => prop_assert!(cut > 0 && cut < reply.len()),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    /// Random bytes on either host channel never panic the host.
    #[test]
    fn random_host_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = serve_preimages(Cursor::new(bytes.clone()), Vec::new(), Limits::default(), |k| Ok(Some(k.as_bytes().to_vec())));
        let _ = serve_hints(Cursor::new(bytes), Vec::new(), Limits::default(), |_| {});
    }

    /// Hints round-trip through their text form.
    #[test]
    fn hints_round_trip(kind in 0usize..8, fill in any::<u8>()) {
        let kind = HintType::ALL[kind];
        let hint = Hint::new(kind, vec![fill; kind.payload_len()]).unwrap();
        prop_assert_eq!(Hint::parse(&hint.encode()).unwrap(), hint);
    }
}

const CHILD_ENV: &str = "KEEL_PREIMAGE_TEST_CHILD";

/// Runs as the client when this test binary is started by `host_serves_a_client_process_over_fds_3_to_6`:
/// hints, asks for two preimages on fds 3–6 and exits 0 if both arrive intact (2 on any error).
#[test]
fn child_client() {
    let Ok(mode) = std::env::var(CHILD_ENV) else { return };
    let code = (|| -> Result<i32, PreimageError> {
        let fds = keel_preimage::ClientFds::open()?;
        let mut hints = HintWriter::new(fds.hint_acks, fds.hints);
        hints.hint(&Hint::new(HintType::BlockWitness, vec![7; 32])?)?;
        let mut oracle = OracleClient::new(fds.replies, fds.keys, Limits::default());
        let a = oracle.get(PreimageKey::keccak(b"hello"))?;
        let b = oracle.get(PreimageKey::local(4))?;
        let wanted = mode == "ok";
        Ok(if (a == b"hello" && b == 42u64.to_be_bytes()) == wanted { 0 } else { 1 })
    })();
    std::process::exit(match code {
        Ok(code) => code,
        Err(e) => {
            eprintln!("client: {e}");
            2
        }
    });
}

fn client_command(mode: &str) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "child_client", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, mode)
        .stdout(std::process::Stdio::null());
    command
}

#[test]
fn host_serves_a_client_process_over_fds_3_to_6() {
    let fetch = |key: PreimageKey| -> Result<Option<Vec<u8>>, PreimageError> {
        Ok(if key == PreimageKey::keccak(b"hello") {
            Some(b"hello".to_vec())
        } else if key == PreimageKey::local(4) {
            Some(42u64.to_be_bytes().to_vec())
        } else {
            None
        })
    };
    let mut hints = Vec::new();
    let run = keel_preimage::run_client(client_command("ok"), Limits::default(), fetch, |h| {
        hints.push(h.to_string())
    })
    .unwrap();
    assert!(run.error.is_none(), "{:?}", run.error);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!((run.preimages, run.hints), (2, 1));
    assert_eq!(hints, vec![format!("block-witness 0x{}", "07".repeat(32))]);

    // A host that cannot serve a key closes the stream: the client ends with exit 2 and the host says why.
    let started = std::time::Instant::now();
    let run = keel_preimage::run_client(
        client_command("ok"),
        Limits::default(),
        |key| Ok((key != PreimageKey::local(4)).then(|| b"hello".to_vec())),
        |_| {},
    )
    .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(matches!(run.error, Some(PreimageError::Missing { .. })), "{:?}", run.error);
    // A host serving a forged value: refused before it reaches the client, which then fails too.
    let run = keel_preimage::run_client(
        client_command("ok"),
        Limits::default(),
        |_| Ok(Some(b"jello".to_vec())),
        |_| {},
    )
    .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(matches!(run.error, Some(PreimageError::WrongPreimage { .. })), "{:?}", run.error);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// A client that hangs without dying (it keeps fds 3–6 open and never asks) is killed at the deadline; the host
/// returns and says why.
#[test]
fn a_hung_client_is_killed_at_the_deadline() {
    let started = std::time::Instant::now();
    let mut command = std::process::Command::new("sleep");
    command.arg("30");
    let run = keel_preimage::run_client_with_deadline(
        command,
        Limits::default(),
        Some(std::time::Duration::from_millis(300)),
        |_| Ok(None),
        |_| {},
    )
    .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(!run.status.success());
    let error = run.error.map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("did not finish in time"), "{error}");
}
