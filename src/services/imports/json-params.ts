/** Ids and errors travel to D1 as one JSON-array parameter per statement (json_each), kept this small. */
const JSON_PARAM_MAX_BYTES = 256 * 1024;

/** JSON arrays of the items, each small enough to bind as one statement parameter. */
export function jsonParamChunks(items: unknown[]): string[] {
  return countedJsonParamChunks(items).map((chunk) => chunk.json);
}

/** `jsonParamChunks`, with how many items each array holds. */
export function countedJsonParamChunks(items: unknown[]): Array<{ json: string; count: number }> {
  const out: Array<{ json: string; count: number }> = [];
  let current: string[] = [];
  let size = 2;
  const flush = () => out.push({ json: `[${current.join(",")}]`, count: current.length });
  for (const item of items) {
    const json = JSON.stringify(item);
    if (current.length > 0 && size + json.length + 1 > JSON_PARAM_MAX_BYTES) {
      flush();
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) flush();
  return out;
}
