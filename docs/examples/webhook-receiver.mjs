// A webhook receiver on loopback for docs/webhooks.md: verifies every delivery with the
// `standardwebhooks` library, answers 500 to the first `--fail-first` requests (to show retries),
// and lists what it received at GET /received. The secret is read from webhook.json (the answer of
// POST /v1/admin/webhooks) in the current directory, at each request. Stops after 5 idle minutes.
//   node docs/examples/webhook-receiver.mjs 4259 --fail-first 1
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const port = Number(process.argv[2] ?? 4259);
const failFirst = Number(process.argv[process.argv.indexOf("--fail-first") + 1] || 0);
const received = [];
let idle;
const stayAlive = () => {
  clearTimeout(idle);
  idle = setTimeout(() => process.exit(0), 5 * 60_000);
};

function verify(body, headers) {
  try {
    const { secret } = JSON.parse(readFileSync("webhook.json", "utf8"));
    return { event: new Webhook(secret).verify(body, headers), verified: true };
  } catch {
    return { event: JSON.parse(body), verified: false };
  }
}

createServer((req, res) => {
  stayAlive();
  if (req.method === "GET" && req.url === "/received") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ received }));
    return;
  }
  let body = "";
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => {
    const { event, verified } = verify(body, req.headers);
    const status = received.length < failFirst ? 500 : 204;
    received.push({
      webhookId: req.headers["webhook-id"],
      type: event.type,
      verified,
      answered: status,
      // From the change (the event's timestamp) to its arrival here.
      delayMs: Date.now() - Date.parse(event.timestamp),
    });
    res.writeHead(status).end();
  });
}).listen(port, "127.0.0.1", stayAlive);
