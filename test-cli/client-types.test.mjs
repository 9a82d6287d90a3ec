// The committed client types are what the app's current /openapi.json generates (npm run client:types).
import assert from "node:assert/strict";
import { test } from "node:test";
import { staleFiles } from "../scripts/client-types.mjs";

test("client/schema.d.ts, lists.mjs and the .d.mts files match the app's /openapi.json", async () => {
  assert.deepEqual(await staleFiles(), [], "stale: run `npm run client:types` and commit the result");
});
