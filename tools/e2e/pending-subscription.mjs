// eth_subscribe("newPendingTransactions") with hashes and with full transactions (geth's `true` option): sends one
// transaction over HTTP and prints what both subscriptions delivered as one JSON object.
// Usage: node pending-subscription.mjs HTTP_URL WS_URL
import WebSocket from "ws";

const [httpUrl, wsUrl] = process.argv.slice(2);
const FROM = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

async function http(method, params) {
  const res = await fetch(httpUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function main() {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const ids = {};
  const seen = {};
  const done = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`timeout; saw ${JSON.stringify(seen)}`)), 15000);
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.id !== undefined) {
        if (msg.error) reject(new Error(JSON.stringify(msg.error)));
        ids[msg.result] = msg.id === 1 ? "hashes" : "full";
        return;
      }
      const kind = ids[msg.params?.subscription];
      if (kind && !(kind in seen)) seen[kind] = msg.params.result;
      if ("hashes" in seen && "full" in seen) resolve();
    });
  });
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newPendingTransactions"] }));
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "eth_subscribe", params: ["newPendingTransactions", true] }));
  await new Promise((r) => setTimeout(r, 300));
  const hash = await http("eth_sendTransaction", [{ from: FROM, to: FROM, value: "0x1" }]);
  await done;
  ws.close();
  console.log(JSON.stringify({ sent: hash, hashes: seen.hashes, full: { hash: seen.full.hash, from: seen.full.from } }));
}

main().catch((e) => { console.error(e); process.exit(1); });
