// Puts Scalar's API reference bundle (the devDependency @scalar/api-reference, pinned in
// package.json) into public/scalar/, which the Worker serves as static assets for /docs: the page
// loads nothing from any other origin. Run by wrangler before `wrangler dev` / `wrangler deploy`
// ([build] in wrangler.toml) and by vitest.config.ts; the copy is gitignored, the version is the lock's.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const SOURCE = path.join(ROOT, "node_modules", "@scalar", "api-reference", "dist", "browser", "standalone.js");
export const SCALAR_BUNDLE = path.join(ROOT, "public", "scalar", "api-reference.js");

export function copyScalarBundle() {
  if (!existsSync(SOURCE)) throw new Error(`${SOURCE} is missing: run npm install`);
  // Unchanged: leave the file alone, so a running `wrangler dev` does not reload its assets.
  if (existsSync(SCALAR_BUNDLE) && readFileSync(SCALAR_BUNDLE).equals(readFileSync(SOURCE))) return;
  copyFileSync(SOURCE, SCALAR_BUNDLE);
}

if (process.argv[1] === import.meta.filename) copyScalarBundle();
