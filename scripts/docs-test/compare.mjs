// Compares an example's real answer with the JSON the doc shows under it.
//
// The rule (also in docs/README.md):
// - Objects have the same keys, arrays the same length, values the same JSON type (null is its own
//   type), recursively.
// - Literals are compared exactly: booleans, numbers, and strings, except a string that holds a
//   UUID, an ISO 8601 time or an ellipsis (…): ids, times and shortened values vary per run, so
//   only their type must match.
// - A shortened object or array, `…` where keys or items stand (`{"a":1,…}`, `[{…},…]`), only
//   needs the keys and items it shows.
// - `<!-- docs-test: numbers by type -->` between the example and its answer compares that
//   answer's numbers by type only (counts that depend on timing, e.g. rows imported before a cancel).
// - A block may show several JSON values one after the other (one per request of the example).

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const SHORTENED = "…";
export const MORE = "\u2026more"; // the key (or item) an ellipsis in a structure becomes

const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Splits text into its top-level JSON values; `…` outside strings marks a shortened structure. */
export function parseJsonValues(text) {
  const values = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    let depth = 0;
    let inString = false;
    let out = "";
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        out += c;
        if (c === "\\") out += text[++i];
        else if (c === '"') inString = false;
      } else if (c === '"') {
        inString = true;
        out += c;
      } else if (c === SHORTENED) {
        out += `"${MORE}"${lastOpen(out) === "{" ? ":null" : ""}`;
      } else {
        out += c;
        if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") depth--;
        if (depth === 0 && /[}\]]/.test(c)) {
          i++;
          break;
        }
        if (depth === 0 && /\s/.test(text[i + 1] ?? " ") && !/[{[]/.test(c)) {
          i++;
          break;
        }
      }
    }
    try {
      values.push(JSON.parse(out));
    } catch (error) {
      throw new Error(`not JSON at offset ${start}: ${error.message}\n${text.slice(start, start + 200)}`);
    }
  }
  return values;
}

function lastOpen(s) {
  let depth = 0;
  let inString = false;
  for (let k = s.length - 1; k >= 0; k--) {
    const c = s[k];
    if (c === '"' && s[k - 1] !== "\\") inString = !inString;
    if (inString) continue;
    if (c === "}" || c === "]") depth++;
    else if (c === "{" || c === "[") {
      if (depth === 0) return c;
      depth--;
    }
  }
  return null;
}

const exactString = (s) => !UUID.test(s) && !ISO_TIME.test(s) && !s.includes(SHORTENED);

/** Differences between `actual` and `expected`, as "path: what" lines (empty when they match). */
export function differences(actual, expected, path = "$", options = {}) {
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te !== ta) return [`${path}: expected ${te} ${short(expected)}, got ${ta} ${short(actual)}`];
  if (te === "object") {
    const shortened = MORE in expected;
    const problems = [];
    for (const key of Object.keys(expected)) {
      if (key === MORE) continue;
      if (!(key in actual)) problems.push(`${path}.${key}: missing`);
      else problems.push(...differences(actual[key], expected[key], `${path}.${key}`, options));
    }
    if (!shortened)
      for (const key of Object.keys(actual)) if (!(key in expected)) problems.push(`${path}.${key}: not in the doc`);
    return problems;
  }
  if (te === "array") {
    const shortened = expected.includes(MORE);
    const shown = expected.filter((v) => v !== MORE);
    if (shortened ? actual.length < shown.length : actual.length !== shown.length)
      return [`${path}: expected ${shortened ? "at least " : ""}${shown.length} items, got ${actual.length}`];
    return shown.flatMap((item, k) => differences(actual[k], item, `${path}[${k}]`, options));
  }
  if (te === "string" && !exactString(expected)) return [];
  if (te === "number" && options.numbersByType) return [];
  if (actual !== expected) return [`${path}: expected ${short(expected)}, got ${short(actual)}`];
  return [];
}

function short(v) {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}
