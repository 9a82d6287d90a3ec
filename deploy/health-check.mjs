// After the upload: the deployed Worker must answer its health route with a key that may read it.

/** Waits until the deployed Worker answers 200: database reachable, every migration applied. */
export async function checkHealth(baseUrl, adminKey, { attempts = 10, delayMs = 3000 } = {}) {
  const url = new URL("/v1/health", baseUrl);
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${adminKey}` } });
      const body = await res.text();
      if (res.status === 200) {
        console.log(`  ${url} → 200 ${body}`);
        return;
      }
      last = `${res.status} ${body}`;
    } catch (error) {
      last = error.message;
    }
    if (attempt < attempts) await new Promise((r) => setTimeout(r, delayMs));
  }
  throw new Error(`health check failed: GET ${url} → ${last}`);
}
