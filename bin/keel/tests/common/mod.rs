//! Helpers shared by the end-to-end tests: starting nodes, running cast, raw HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ACCOUNT1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn tool(name: &str) -> PathBuf {
    let path = repo().join(format!("tools/node_modules/@foundry-rs/{name}-linux-amd64/bin/{name}"));
    assert!(path.exists(), "{} missing: run scripts/setup-tools.sh", path.display());
    path
}

/// A node process, killed on drop.
pub struct Running {
    pub child: Child,
    pub url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd`, waits for its `Listening on ADDR` line.
pub fn start(mut cmd: Command) -> Running {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.trim().strip_prefix("Listening on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("node did not report its address");
    Running { child, url: format!("http://{addr}") }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn start_keel(datadir: &Path) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.args(["node", "--port", &free_port().to_string(), "--datadir"]).arg(datadir);
    start(cmd)
}

pub fn start_anvil() -> Running {
    let mut cmd = Command::new(tool("anvil"));
    // anvil records opcode steps (for debug_traceTransaction's struct logger) only when asked to.
    cmd.args(["--port", &free_port().to_string(), "--steps-tracing"]);
    start(cmd)
}

/// Runs cast against `url`; returns (success, stdout, stderr).
pub fn cast(url: &str, args: &[&str]) -> (bool, String, String) {
    // Options go right after the subcommand: `send --create CODE ARGS...` takes everything after CODE as arguments.
    let out =
        Command::new(tool("cast")).arg(args[0]).args(["--rpc-url", url]).args(&args[1..]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

pub fn cast_ok(url: &str, args: &[&str]) -> String {
    let (ok, stdout, stderr) = cast(url, args);
    let shown: Vec<String> =
        args.iter().map(|a| if a.len() > 80 { format!("{}…", &a[..80]) } else { a.to_string() }).collect();
    assert!(ok, "cast {shown:?} failed: {stderr}");
    stdout
}

pub fn bytecode(name: &str) -> String {
    let hex = std::fs::read_to_string(repo().join(format!("contracts/out/{name}.bin"))).unwrap();
    format!("0x{}", hex.trim())
}

/// A raw HTTP/1.1 POST of `body` to the node; returns (status code, response body).
pub fn http_post(url: &str, body: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) before reading an oversized body; a reset while writing is fine.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// One JSON-RPC call over HTTP; returns the whole response object.
pub fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let (_, response) = http_post(url, body.to_string().as_bytes());
    // Responses may be chunked; the JSON object is the part between the first '{' and the last '}'.
    let start = response.find('{').unwrap_or(0);
    let end = response.rfind('}').map_or(response.len(), |e| e + 1);
    serde_json::from_str(&response[start..end]).unwrap_or_else(|e| panic!("{method}: {e}: {response}"))
}

/// The `result` of a JSON-RPC call that must succeed.
pub fn rpc_ok(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let response = rpc(url, method, params);
    assert!(response.get("error").is_none(), "{method}: {response}");
    response["result"].clone()
}
