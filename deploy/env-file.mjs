// The deploy's env-file reader. Node's `util.parseEnv` (and the `dotenv` package) end an unquoted
// value at its first `#`, so a generated secret containing `#` would be deployed cut short. Here a
// `#` starts a comment only at the start of a line or after whitespace, as in a shell.
//
//   KEY=value            unquoted: trimmed; `abc#def` stays whole, `abc #note` is `abc`
//   KEY='value'          single quotes: literal, may span lines
//   KEY="value"          double quotes: may span lines; \n \r \t \" \\ are escapes
//   export KEY=value     the `export ` prefix is ignored; blank lines and `# …` lines are skipped

const LINE = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=/;
const ESCAPES = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

/** `{ value, rest }` for a quoted value starting at `text[0]`, or null when it never closes. */
function readQuoted(text) {
  const quote = text[0];
  let value = "";
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === quote) return { value, rest: text.slice(i + 1) };
    if (quote === '"' && char === "\\" && text[i + 1] in ESCAPES) {
      value += ESCAPES[text[i + 1]];
      i++;
    } else {
      value += char;
    }
  }
  return null;
}

/** What follows `=` on its line: `KEY=#x` is "#x", `KEY= #x` is "". */
function unquoted(line) {
  const comment = line.search(/[ \t]#/);
  return (comment === -1 ? line : line.slice(0, comment)).trim();
}

export function parseEnvFile(source) {
  const result = {};
  let text = source.replace(/\r\n?/g, "\n");
  while (text.length > 0) {
    const newline = text.indexOf("\n");
    const line = newline === -1 ? text : text.slice(0, newline);
    const match = LINE.exec(line);
    if (!match) {
      // Blank lines, comments and lines that assign nothing.
      text = newline === -1 ? "" : text.slice(newline + 1);
      continue;
    }
    const afterKey = text.slice(match[0].length);
    const start = afterKey.search(/[^ \t]|$/);
    const quoted = afterKey[start] === '"' || afterKey[start] === "'" ? readQuoted(afterKey.slice(start)) : null;
    if (quoted) {
      result[match[1]] = quoted.value;
      const end = quoted.rest.indexOf("\n");
      text = end === -1 ? "" : quoted.rest.slice(end + 1);
    } else {
      result[match[1]] = unquoted(newline === -1 ? afterKey : afterKey.slice(0, afterKey.indexOf("\n")));
      text = newline === -1 ? "" : text.slice(newline + 1);
    }
  }
  return result;
}
