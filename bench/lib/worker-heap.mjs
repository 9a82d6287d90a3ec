// The Worker's own JavaScript heap, read through wrangler dev's inspector (Chrome DevTools
// Protocol, `Runtime.getHeapUsage`). workerd's RSS also holds the local D1, R2 and queues; the
// heap is what the Worker itself holds, the figure that meets Workers' 128 MB isolate limit.
import WebSocket from "ws";

// wrangler's inspector proxy only accepts DevTools origins.
const ORIGIN = "https://devtools.devprod.cloudflare.dev";

async function connect(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl, { headers: { origin: ORIGIN } });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let id = 0;
  const pending = new Map();
  socket.on("message", (data) => {
    const message = JSON.parse(data.toString());
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      id += 1;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => socket.close() };
}

/** Samples the Worker's used heap every `intervalMs`; `stop()` resolves to the peak in MiB. */
export async function startHeapSampler(inspectorPort, { intervalMs = 100 } = {}) {
  const inspector = await connect(inspectorPort);
  let peak = 0;
  let last = Promise.resolve();
  const sample = () => {
    last = inspector.send("Runtime.getHeapUsage").then((usage) => {
      if (usage) peak = Math.max(peak, usage.usedSize);
    });
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      sample();
      await last;
      inspector.close();
      return peak / 1024 / 1024;
    },
  };
}
