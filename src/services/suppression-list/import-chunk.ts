import type { BatchStatement } from "../../db/client";
import type { ImportJob, ImportOptions } from "../../db/schema";
import type { ChunkRead } from "../imports/chunk-reader";
import { advanceJob, commitChunk } from "../imports/commit";
import type { InvalidRow } from "../imports/duplicates";
import type { ImportDeps } from "../imports/jobs";
import { type SuppressionEntry, type SuppressionRow, suppressionRowReaders } from "./rows";
import { countAlreadySuppressed, hashKinds, insertSuppressions, packEntries, rememberWouldSuppress } from "./writes";

/**
 * A suppression import's chunks: rows read with the suppression columns, and committed (ledger,
 * checkpoint, errors and the suppressions) in one batch like a contact chunk. No contact is
 * created or changed; an address already suppressed keeps its entry and counts as already suppressed.
 */
export function suppressionChunkHandler(deps: ImportDeps, options: ImportOptions) {
  return {
    readers: suppressionRowReaders(options),
    async commit(job: ImportJob, read: ChunkRead<SuppressionRow>, now: Date): Promise<ImportJob | "stale"> {
      const valid: SuppressionEntry[] = [];
      const invalid: InvalidRow[] = [];
      for (const row of read.rows) {
        if ("error" in row) invalid.push(row);
        else valid.push(row.entry);
      }
      const kinds = await hashKinds(deps.db);
      const writes: BatchStatement[] = [];
      for (const { json, count } of await packEntries(deps.hash, valid, kinds)) {
        writes.push(
          job.options?.dryRun
            ? rememberWouldSuppress(deps.db, job.id, json, kinds)
            : insertSuppressions(deps.db, json, kinds),
          countAlreadySuppressed(deps.db, job.id, count),
        );
      }
      const chunk = { read, valid, invalid };
      if (!(await commitChunk(deps.db, job, chunk, now, writes))) return "stale";
      return advanceJob(job, chunk, now);
    },
  };
}
