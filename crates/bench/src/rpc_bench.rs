//! `keel bench node`: keel and anvil side by side, measured by the same minimal JSON-RPC client (HTTP/1.1
//! keep-alive over std sockets, so neither node benefits from a smarter client).
//!
//! (a) pre-signed ETH and ERC-20 transfers through eth_sendRawTransaction, automine and 1 s blocks, with the
//! throughput of each 1k window up to the chain height asked for; (b) eth_call and eth_getBalance requests per
//! second on 1 and 16 connections; (c) resident memory idle and after the load; (d) start-up time.

use crate::{BenchError, Workload, WorkloadKind};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::Address;
use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A node under test.
#[derive(Debug, Clone)]
pub struct NodeUnderTest {
    pub name: String,
    /// Program and arguments; `{port}` is replaced by the port.
    pub command: Vec<String>,
}

/// A started node, killed on drop.
struct Started {
    child: Child,
    addr: String,
    startup: Duration,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn io(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

fn free_port() -> Result<u16, BenchError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0").map_err(io)?.local_addr().map_err(io)?.port())
}

fn start(node: &NodeUnderTest) -> Result<Started, BenchError> {
    let port = free_port()?.to_string();
    let args: Vec<String> = node.command.iter().map(|a| a.replace("{port}", &port)).collect();
    let started = Instant::now();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError::Setup(format!("{}: {e}", args[0])))?;
    let addr = format!("127.0.0.1:{port}");
    let mut node = Started { child, addr, startup: Duration::ZERO };
    loop {
        if let Ok(mut client) = Client::connect(&node.addr) {
            if client.call("eth_chainId", "[]").is_ok() {
                node.startup = started.elapsed();
                return Ok(node);
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(BenchError::Setup(format!("{} did not start", args[0])));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A keep-alive JSON-RPC client.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Client {
    fn connect(addr: &str) -> Result<Self, BenchError> {
        let stream = TcpStream::connect(addr).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).map_err(io)?;
        Ok(Self {
            reader: BufReader::new(stream.try_clone().map_err(io)?),
            writer: stream,
            host: addr.to_string(),
        })
    }

    /// One call; returns the response body.
    fn call(&mut self, method: &str, params: &str) -> Result<String, BenchError> {
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        // One write per request: a formatted write straight to the socket would send each piece as its own
        // segment (TCP_NODELAY) and make both nodes pay for extra wake-ups.
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.writer.write_all(request.as_bytes()).map_err(io)?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).map_err(io)? == 0 {
                return Err(BenchError::Setup("connection closed".into()));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).map_err(io)?;
                let size = usize::from_str_radix(size.trim(), 16).map_err(io)?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).map_err(io)?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else {
            let mut body = vec![0; length.ok_or_else(|| io("response without length"))?];
            self.reader.read_exact(&mut body).map_err(io)?;
            out = body;
        }
        let text = String::from_utf8(out).map_err(io)?;
        if text.contains("\"error\"") {
            return Err(BenchError::Setup(format!("{method}: {text}")));
        }
        Ok(text)
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One node's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeReport {
    pub name: String,
    pub startup_ms: f64,
    pub idle_rss_mib: f64,
    pub loaded_rss_mib: f64,
    /// (workload, mining, transactions sent, accepted/s over all, mined/s over all, per-1k-window tx/s)
    pub sends: Vec<SendReport>,
    pub calls: Vec<(String, usize, f64)>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SendReport {
    pub workload: &'static str,
    pub mining: String,
    pub transactions: usize,
    pub accepted_per_second: f64,
    pub mined_per_second: f64,
    /// Transactions per second in each window of 1000, in order (shows whether cost grows with height).
    pub windows: Vec<f64>,
    /// Set when the node stopped answering within the time limit.
    pub stalled_after: Option<usize>,
}

fn hex_u64(body: &str) -> u64 {
    body.split("\"result\":\"0x")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0)
}

fn raw_transactions(kind: WorkloadKind, count: usize) -> Result<(Vec<String>, Vec<String>), BenchError> {
    let workload = Workload::new(kind, count.div_ceil(kind.transactions_per_block()).max(1))?;
    let encode =
        |tx: &keel_evm::RecoveredTx| format!("0x{}", alloy_primitives::hex::encode(tx.tx.encoded_2718()));
    let setup = workload.setup.iter().flatten().map(encode).collect();
    let txs = workload.blocks.iter().flatten().take(count).map(encode).collect();
    Ok((setup, txs))
}

fn send_all(
    node: &NodeUnderTest,
    kind: WorkloadKind,
    interval: Option<u64>,
    count: usize,
    limit: Duration,
    loaded_rss: &mut u64,
) -> Result<SendReport, BenchError> {
    let node = match interval {
        // Both keel and anvil take `--block-time SECONDS`.
        Some(secs) => {
            let mut node = node.clone();
            node.command.extend(["--block-time".to_string(), secs.to_string()]);
            node
        }
        None => node.clone(),
    };
    let mut started = start(&node)?;
    let (setup, txs) = raw_transactions(kind, count)?;
    let mut client = Client::connect(&started.addr)?;
    for raw in &setup {
        client.call("eth_sendRawTransaction", &format!("[\"{raw}\"]"))?;
    }
    if interval.is_some() && !setup.is_empty() {
        // Wait for the setup to be mined before timing.
        let sender = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        while hex_u64(&client.call("eth_getTransactionCount", &format!("[\"{sender}\",\"latest\"]"))?)
            < setup.len() as u64
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let base = hex_u64(&client.call("eth_blockNumber", "[]")?);
    let start_time = Instant::now();
    let mut window_start = Instant::now();
    let mut windows = Vec::new();
    let mut stalled_after = None;
    for (i, raw) in txs.iter().enumerate() {
        if start_time.elapsed() > limit {
            stalled_after = Some(i);
            break;
        }
        client.call("eth_sendRawTransaction", &format!("[\"{raw}\"]"))?;
        if (i + 1) % 1000 == 0 {
            windows.push(1000.0 / window_start.elapsed().as_secs_f64());
            window_start = Instant::now();
        }
    }
    let sent = stalled_after.unwrap_or(txs.len());
    let accepted = start_time.elapsed();
    // Mined: wait until the last block holds all sent transactions (count by summing block tx counts).
    let mut mined_count = 0usize;
    let mut next_block = base + 1;
    let deadline = Instant::now() + Duration::from_secs(120);
    while mined_count < sent && Instant::now() < deadline {
        let head = hex_u64(&client.call("eth_blockNumber", "[]")?);
        while next_block <= head {
            let body =
                client.call("eth_getBlockTransactionCountByNumber", &format!("[\"0x{next_block:x}\"]"))?;
            mined_count += hex_u64(&body) as usize;
            next_block += 1;
        }
        if mined_count < sent {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mined = start_time.elapsed();
    *loaded_rss = (*loaded_rss).max(rss_kib(started.child.id()));
    let _ = &mut started;
    Ok(SendReport {
        workload: kind.name(),
        mining: interval.map_or("automine".into(), |s| format!("{s}s blocks")),
        transactions: sent,
        accepted_per_second: sent as f64 / accepted.as_secs_f64(),
        mined_per_second: mined_count as f64 / mined.as_secs_f64(),
        windows,
        stalled_after,
    })
}

fn calls_per_second(
    addr: &str,
    method: &str,
    params: &str,
    connections: usize,
    duration: Duration,
) -> Result<f64, BenchError> {
    let handles: Vec<_> = (0..connections)
        .map(|_| {
            let addr = addr.to_string();
            let (method, params) = (method.to_string(), params.to_string());
            std::thread::spawn(move || -> Result<u64, BenchError> {
                let mut client = Client::connect(&addr)?;
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < duration {
                    client.call(&method, &params)?;
                    n += 1;
                }
                Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| io("client thread panicked"))??;
    }
    Ok(total as f64 / duration.as_secs_f64())
}

/// Runs every measurement on one node.
pub fn bench_node(
    node: &NodeUnderTest,
    transactions: usize,
    limit: Duration,
) -> Result<NodeReport, BenchError> {
    let idle = start(node)?;
    std::thread::sleep(Duration::from_millis(300));
    let idle_rss = rss_kib(idle.child.id());
    let startup = idle.startup;
    let mut calls = Vec::new();
    let balance = r#"["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","latest"]"#;
    // eth_call of the identity precompile with 32 bytes: an EVM call without state setup.
    let call = r#"[{"to":"0x0000000000000000000000000000000000000004","data":"0x0000000000000000000000000000000000000000000000000000000000000001"},"latest"]"#;
    for connections in [1, 16] {
        calls.push((
            "eth_getBalance".into(),
            connections,
            calls_per_second(&idle.addr, "eth_getBalance", balance, connections, Duration::from_secs(2))?,
        ));
        calls.push((
            "eth_call".into(),
            connections,
            calls_per_second(&idle.addr, "eth_call", call, connections, Duration::from_secs(2))?,
        ));
    }
    drop(idle);
    let mut loaded_rss = 0;
    let mut sends = Vec::new();
    for kind in [WorkloadKind::Transfers, WorkloadKind::Erc20] {
        sends.push(send_all(node, kind, None, transactions, limit, &mut loaded_rss)?);
    }
    sends.push(send_all(
        node,
        WorkloadKind::Transfers,
        Some(1),
        transactions.min(10_000),
        limit,
        &mut loaded_rss,
    )?);
    Ok(NodeReport {
        name: node.name.clone(),
        startup_ms: startup.as_secs_f64() * 1000.0,
        idle_rss_mib: idle_rss as f64 / 1024.0,
        loaded_rss_mib: loaded_rss as f64 / 1024.0,
        sends,
        calls,
    })
}

/// keel's own command line for a benchmark run (an ephemeral datadir under `dir`).
pub fn keel_command(keel: PathBuf, dir: &std::path::Path) -> NodeUnderTest {
    NodeUnderTest {
        name: "keel".into(),
        command: vec![
            keel.display().to_string(),
            "node".into(),
            "--port".into(),
            "{port}".into(),
            "--datadir".into(),
            dir.join("keel-{port}").display().to_string(),
        ],
    }
}

/// eth_sendRawTransaction acceptance rate of `node` started without mining (pool limits raised to hold every
/// transaction): pre-signed raw transactions sent one after another on one connection.
pub fn pool_accept_rate(node: &NodeUnderTest, raws: &[String], fund: &[Address]) -> Result<f64, BenchError> {
    let mut node = node.clone();
    let room = raws.len().to_string();
    node.command.push("--no-mining".into());
    for flag in
        ["--txpool.accountslots", "--txpool.globalslots", "--txpool.accountqueue", "--txpool.globalqueue"]
    {
        node.command.extend([flag.to_string(), room.clone()]);
    }
    let started = start(&node)?;
    let mut client = Client::connect(&started.addr)?;
    for address in fund {
        client.call("anvil_setBalance", &format!("[\"{address}\",\"0xffffffffffffffffffffffff\"]"))?;
    }
    let begin = Instant::now();
    for raw in raws {
        client.call("eth_sendRawTransaction", &format!("[\"{raw}\"]"))?;
    }
    let rate = raws.len() as f64 / begin.elapsed().as_secs_f64();
    let status = client.call("txpool_status", "[]")?;
    if !status.contains(&format!("\"pending\":\"0x{:x}\"", raws.len())) {
        return Err(BenchError::Setup(format!("not all transactions pending: {status}")));
    }
    Ok(rate)
}
