import { v7 as uuidv7 } from "uuid";

/** Time-ordered UUIDs (v7): ordering by id is ordering by creation, which keyset cursors rely on. */
export const newId = (): string => uuidv7();
