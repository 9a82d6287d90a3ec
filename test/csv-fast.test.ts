import { parse } from "csv-parse/sync";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCsvFast } from "../src/services/imports/csv-fast";

const encoder = new TextEncoder();
const CAP = 1024 * 1024;

/** What the import's csv-parse reader yields for the whole text: records and the bytes through each. */
function reference(text: string, atFileStart: boolean) {
  const out = parse(text, {
    info: true,
    bom: atFileStart,
    skip_empty_lines: true,
    relax_column_count: true,
    relax_quotes: true,
    max_record_size: CAP,
  }) as unknown as Array<{ record: string[]; info: { bytes: number } }>;
  return out.map((r) => ({ value: r.record, end: r.info.bytes }));
}

const pieces = fc.constantFrom(
  "a",
  "bc",
  ",",
  '"',
  '""',
  "\n",
  "\r\n",
  "\r",
  " ",
  "é",
  "😀",
  "x\ny",
  "\uFEFF",
  '"q,\n"',
);
const csvText = fc.array(pieces, { maxLength: 40 }).map((p) => p.join(""));

let accepted = 0;
describe("the fast CSV path", () => {
  it("reads a whole file exactly as csv-parse does, or hands it to csv-parse", () => {
    fc.assert(
      fc.property(csvText, fc.boolean(), (text, atFileStart) => {
        const fast = parseCsvFast({
          bytes: encoder.encode(text),
          maxRecords: 1e9,
          maxRecordChars: CAP,
          atFileStart,
          eof: true,
        });
        if (fast === null) return;
        accepted += 1;
        let expected: ReturnType<typeof reference>;
        try {
          expected = reference(text, atFileStart);
        } catch {
          throw new Error(`fast path accepted what csv-parse refuses: ${JSON.stringify(text)}`);
        }
        expect(fast.records).toEqual(expected);
        expect(fast.eof).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // The comparison means something only if the fast path takes a good share of the inputs.
    expect(accepted).toBeGreaterThan(300);
  });

  it("cut anywhere, gives a prefix of the records with their exact byte ends", () => {
    fc.assert(
      fc.property(csvText, fc.nat(), fc.integer({ min: 1, max: 5 }), (text, at, maxRecords) => {
        const bytes = encoder.encode(text);
        const cut = bytes.subarray(0, at % (bytes.length + 1));
        const fast = parseCsvFast({ bytes: cut, maxRecords, maxRecordChars: CAP, atFileStart: true, eof: false });
        if (fast === null) return;
        let expected: ReturnType<typeof reference>;
        try {
          expected = reference(text, true);
        } catch {
          return; // the rest of the file is broken: the chunk that reaches it fails
        }
        expect(fast.eof).toBe(false);
        expect(fast.records).toEqual(expected.slice(0, fast.records.length));
        expect(fast.records.length === maxRecords || fast.records.length <= expected.length).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("takes the common shapes itself: quoted commas and newlines, CRLF, BOM, non-ASCII", () => {
    const text = '\uFEFFexternalId,note\r\n1,"a, ""b""\r\nc"\r\n\r\n2,é😀\r\n3,x';
    const fast = parseCsvFast({
      bytes: encoder.encode(text),
      maxRecords: 10,
      maxRecordChars: CAP,
      atFileStart: true,
      eof: true,
    });
    expect(fast?.records).toEqual(reference(text, true));
    expect(fast?.records.map((r) => r.value)).toEqual([
      ["externalId", "note"],
      ["1", 'a, "b"\r\nc'],
      ["2", "é😀"],
      ["3", "x"],
    ]);
  });
});
