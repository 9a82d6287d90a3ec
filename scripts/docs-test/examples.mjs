// The shell examples of a markdown document, in order, each with the answer shown under it.
// Lexed with `marked` (code fences, HTML comments and paragraphs as tokens), never with regexes
// over the raw text.
import { marked } from "marked";

/** `<!-- docs-test: skip <reason> -->`: the next sh block is not run, for a reason shown in the doc. */
const SKIP_MARKER = /^<!--\s*docs-test:\s*skip\s+([a-z-]+)\s*-->\s*$/;
/** The visible sentence a skip marker must come with, per reason, so a reader sees it too. */
export const SKIP_REASONS = {
  "cloudflare-only": /Runs on Cloudflare only/,
  setup: /Not run by the docs test/,
  "long-running": /Long-running/,
};

/**
 * Every ```sh block of `markdown`, in order:
 * `{ code, line, skip: reason|null, expected: {lang, text}|null }`. `expected` is the first code
 * block after it when nothing but one short paragraph stands between (no heading, no other sh).
 */
export function shellExamples(markdown, file) {
  const tokens = marked.lexer(markdown);
  const examples = [];
  let line = 1;
  let pendingSkip = null;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const startLine = line;
    line += (token.raw.match(/\n/g) ?? []).length;
    if (token.type === "html") {
      const marker = token.raw.trim().match(SKIP_MARKER);
      if (marker) {
        const reason = marker[1];
        if (!SKIP_REASONS[reason]) throw new Error(`${file}:${startLine}: unknown docs-test skip reason "${reason}"`);
        pendingSkip = { reason, line: startLine, visible: false };
      }
      continue;
    }
    if (token.type === "paragraph" && pendingSkip && SKIP_REASONS[pendingSkip.reason].test(token.text)) {
      pendingSkip.visible = true;
      continue;
    }
    if (token.type !== "code" || token.lang !== "sh") continue;
    if (pendingSkip && !pendingSkip.visible) {
      throw new Error(
        `${file}:${pendingSkip.line}: a "${pendingSkip.reason}" skip needs a visible paragraph matching ${SKIP_REASONS[pendingSkip.reason]} before the block`,
      );
    }
    examples.push({
      code: token.text,
      line: startLine,
      skip: pendingSkip?.reason ?? null,
      expected: answerAfter(tokens, i),
    });
    pendingSkip = null;
  }
  return examples;
}

/** `<!-- docs-test: numbers by type -->` between an example and its answer: counts that vary per run. */
const NUMBERS_BY_TYPE = /^<!--\s*docs-test:\s*numbers by type\s*-->\s*$/;

function answerAfter(tokens, index) {
  let paragraphs = 0;
  let numbersByType = false;
  for (let j = index + 1; j < tokens.length; j++) {
    const token = tokens[j];
    if (token.type === "space") continue;
    if (token.type === "html" && NUMBERS_BY_TYPE.test(token.raw.trim())) {
      numbersByType = true;
      continue;
    }
    if (token.type === "paragraph" && paragraphs === 0 && token.text.length <= 200) {
      paragraphs++;
      continue;
    }
    if (token.type === "code" && token.lang !== "sh")
      return { lang: token.lang || "text", text: token.text, numbersByType };
    return null;
  }
  return null;
}
