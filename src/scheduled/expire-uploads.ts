import type { ImportDeps } from "../services/imports/jobs";
import { expireStaleUploads } from "../services/imports/uploads";

/** Multipart uploads nobody completed or aborted within their time to live: abort them, free their parts. */
export function expireImportUploads(deps: ImportDeps, now = Date.now()): Promise<number> {
  return expireStaleUploads(deps, now);
}
