// Part of `npm run lint`: a source file past this many lines is doing more than one job.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const MAX_LINES = 250;
const files = readdirSync("src", { recursive: true })
  .map((file) => path.join("src", String(file)))
  .filter((file) => /\.(ts|tsx)$/.test(file));
const long = files
  .map((file) => ({ file, lines: readFileSync(file, "utf8").split("\n").length }))
  .filter(({ lines }) => lines > MAX_LINES);
for (const { file, lines } of long) console.error(`${file}: ${lines} lines (max ${MAX_LINES}); split it by job`);
process.exit(long.length > 0 ? 1 : 0);
