// Runs before `npm run dev`: local secrets from the committed example, then local D1 migrations.
// Works offline and without a Cloudflare login (everything is local state under .wrangler/).
import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";

if (!existsSync(".dev.vars")) {
  copyFileSync(".dev.vars.example", ".dev.vars");
  console.log("Created .dev.vars from .dev.vars.example (local development secrets).");
} else {
  // A secret added since .dev.vars was made: take its development value from the example.
  const example = parseEnv(readFileSync(".dev.vars.example", "utf8"));
  const current = parseEnv(readFileSync(".dev.vars", "utf8"));
  const missing = Object.keys(example).filter((name) => !(name in current));
  if (missing.length) {
    appendFileSync(".dev.vars", `\n${missing.map((name) => `${name}=${JSON.stringify(example[name])}`).join("\n")}\n`);
    console.log(`Added ${missing.join(", ")} to .dev.vars from .dev.vars.example.`);
  }
}

execFileSync("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local"], {
  stdio: "inherit",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" },
});
