// ethers v6 against a node: deploy over HTTP, follow newHeads and logs over WebSocket subscriptions, poll a log
// filter. Prints one JSON object of what it saw (normalized: no hashes or timestamps); exits non-zero on failure.
// Usage: node ethers-scenario.mjs HTTP_URL WS_URL BYTECODE_FILE ABI_FILE
import { readFileSync } from "node:fs";
import { ethers } from "ethers";

const [httpUrl, wsUrl, binFile, abiFile] = process.argv.slice(2);
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

function withTimeout(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms))]);
}

async function main() {
  // ethers caches identical requests for 250 ms by default; a dev node answers faster than that, so a cached
  // `pending` nonce would be reused. Disable the cache.
  const http = new ethers.JsonRpcProvider(httpUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const ws = new ethers.WebSocketProvider(wsUrl);
  const wallet = new ethers.Wallet(KEY, http);
  const abi = JSON.parse(readFileSync(abiFile, "utf8"));
  const factory = new ethers.ContractFactory(abi, "0x" + readFileSync(binFile, "utf8").trim(), wallet);
  const contract = await factory.deploy();
  await contract.waitForDeployment();
  const address = await contract.getAddress();
  const network = await ws.getNetwork();

  const heads = [];
  const events = [];
  const gotAll = new Promise((resolve) => {
    const check = () => heads.length >= 3 && events.length >= 3 && resolve();
    ws.on("block", (n) => { heads.push(n); check(); });
    new ethers.Contract(address, abi, ws).on("Stored", (who, key, value) => {
      events.push({ who, key: key.toString(), value: value.toString() });
      check();
    });
  });
  // Let the subscriptions be established before sending.
  await new Promise((r) => setTimeout(r, 500));
  const filterId = await http.send("eth_newFilter", [{ address }]);

  const writer = new ethers.Contract(address, abi, wallet);
  const receipts = [];
  for (const [key, value] of [[1, 11], [2, 22], [3, 33]]) {
    const tx = await writer.store(key, value);
    const receipt = await tx.wait();
    receipts.push({ status: receipt.status, gasUsed: receipt.gasUsed.toString(), logs: receipt.logs.length });
  }
  await withTimeout(gotAll, 15000, "subscriptions");
  const polled = await http.send("eth_getFilterChanges", [filterId]);

  let revert;
  try {
    await writer.store.staticCall(9, 5000);
  } catch (e) {
    const parsed = writer.interface.parseError(e.data);
    revert = { name: parsed?.name, args: parsed?.args.map((a) => a.toString()) };
  }
  console.log(JSON.stringify({
    chainId: network.chainId.toString(),
    deployedCode: (await http.getCode(address)).length,
    receipts,
    headsSeen: heads.length >= 3,
    consecutiveHeads: heads.slice(-3).every((n, i, a) => i === 0 || n === a[i - 1] + 1),
    events,
    polled: polled.map((l) => ({ topics: l.topics, data: l.data })),
    revert,
    value: (await writer.values(2)).toString(),
  }));
  await ws.destroy();
  http.destroy();
}

main().catch((e) => { console.error(e); process.exit(1); });
