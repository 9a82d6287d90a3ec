/** Ids and errors travel to D1 as one JSON-array parameter per statement (json_each), kept this small. */
const JSON_PARAM_MAX_BYTES = 256 * 1024;

/** JSON arrays of the items, each small enough to bind as one statement parameter. */
export function jsonParamChunks(items: unknown[]): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > JSON_PARAM_MAX_BYTES) {
      out.push(`[${current.join(",")}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) out.push(`[${current.join(",")}]`);
  return out;
}
