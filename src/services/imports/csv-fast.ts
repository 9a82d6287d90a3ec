import type { ReadResult } from "./readers";

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;
const REPLACEMENT = "\uFFFD";
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

export type FastCsvInput = {
  bytes: Uint8Array;
  maxRecords: number;
  maxRecordChars: number;
  atFileStart: boolean;
  /** The bytes run to the end of the file; otherwise the last, possibly cut, record is left for later. */
  eof: boolean;
};

/**
 * The common CSV shapes, parsed in one pass over the decoded text: LF or CRLF line breaks used
 * consistently, RFC 4180 quoting. Gives the records exactly as csv-parse does with the reader's
 * options (test/csv-fast.test.ts compares the two on generated input), or null for anything else
 * (bare CRs, text after a closing quote, an unclosed quote at the end, undecodable bytes, a record
 * over the size cap): the caller then reads the chunk with csv-parse, which also words the errors.
 */
export function parseCsvFast(input: FastCsvInput): ReadResult<string[]> | null {
  const { bytes, eof } = input;
  const crlf = lineBreaks(bytes, eof);
  if (crlf === null) return null;
  const cut = eof ? bytes.length : bytes.lastIndexOf(LF) + 1;
  const text = decoder.decode(bytes.subarray(0, cut));
  if (text.includes(REPLACEMENT)) return null;
  const ascii = text.length === cut;
  let pos = input.atFileStart && text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let byteEnd = ascii ? pos : utf8Length(text, 0, pos);
  const records: ReadResult<string[]>["records"] = [];
  while (pos < text.length && records.length < input.maxRecords) {
    const lineBreak = crlf ? 2 : 1;
    if (text.charCodeAt(pos) === (crlf ? CR : LF)) {
      pos += lineBreak; // skip_empty_lines
      byteEnd += lineBreak;
      continue;
    }
    const parsed = parseRecord(text, pos, crlf);
    if (parsed === null || (parsed === "partial" && eof)) return null;
    if (parsed === "partial") break;
    // Chars, not bytes: anything near the cap goes to csv-parse, which enforces it in bytes.
    if ((parsed.next - pos) * 4 > input.maxRecordChars) return null;
    byteEnd += ascii ? parsed.next - pos : utf8Length(text, pos, parsed.next);
    records.push({ value: parsed.fields, end: byteEnd });
    pos = parsed.next;
  }
  const done = eof && (pos >= text.length || trailingBreaksOnly(text, pos, crlf));
  if (records.length === 0 && !done) return null; // a record longer than the bytes read
  return { records, eof: done };
}

/** false: LF only; true: every line break is CRLF; null: bare CRs or a mix. */
function lineBreaks(bytes: Uint8Array, eof: boolean): boolean | null {
  if (bytes.indexOf(CR) === -1) return false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === CR && (i + 1 < bytes.length ? bytes[i + 1] !== LF : eof)) return null;
    if (b === LF && (i === 0 || bytes[i - 1] !== CR)) return null;
  }
  return true;
}

type Parsed = { fields: string[]; next: number } | "partial" | null;

/** One record from `pos` (not an empty line) through its line break: fields and where the next starts. */
function parseRecord(text: string, start: number, crlf: boolean): Parsed {
  const fields: string[] = [];
  let pos = start;
  for (;;) {
    let end: number;
    if (text.charCodeAt(pos) === QUOTE) {
      const quoted = readQuoted(text, pos + 1);
      if (quoted === null) return "partial";
      fields.push(quoted.value);
      end = quoted.next;
    } else {
      end = pos;
      for (let c = text.charCodeAt(end); end < text.length && c !== COMMA && c !== LF && c !== CR; ) {
        c = text.charCodeAt(++end);
      }
      fields.push(text.slice(pos, end));
    }
    if (end >= text.length) return { fields, next: end };
    const c = text.charCodeAt(end);
    if (c === COMMA) pos = end + 1;
    else if (c === LF && !crlf) return { fields, next: end + 1 };
    else if (c === CR && crlf) return { fields, next: end + 2 };
    else return null;
  }
}

/** A quoted field's value from just after its opening quote; null when the text ends inside it. */
function readQuoted(text: string, from: number): { value: string; next: number } | null {
  let value = "";
  let pos = from;
  for (;;) {
    const q = text.indexOf('"', pos);
    if (q === -1) return null;
    value += text.slice(pos, q);
    if (text.charCodeAt(q + 1) !== QUOTE) return { value, next: q + 1 };
    value += '"';
    pos = q + 2;
  }
}

function trailingBreaksOnly(text: string, pos: number, crlf: boolean): boolean {
  const rest = text.slice(pos);
  return crlf ? /^(\r\n)*$/.test(rest) : /^\n*$/.test(rest);
}

function utf8Length(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
