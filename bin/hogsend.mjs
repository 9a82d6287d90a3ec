#!/usr/bin/env node
// The hogsend CLI: contact import (any size) and export, import jobs, against any deployment.
import { createWriteStream, fchmodSync, openSync } from "node:fs";
import { finished } from "node:stream/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  EXPORT_FORMATS,
  IMPORT_FORMATS,
  SUPPRESSION_EXPORT_FORMATS,
  SUPPRESSION_PRESETS,
  SUPPRESSION_REASONS,
} from "hogsend-workers/client";
import { ApiError, createClient, DEFAULT_URL } from "./lib/api.mjs";
import { broadcastCommand, collectWhere, parseData } from "./lib/broadcast.mjs";
import { exitCleanlyOnSignals, removeOnExit } from "./lib/cleanup.mjs";
import { writeExport } from "./lib/export.mjs";
import { importCommand, printSummary } from "./lib/import.mjs";
import {
  COLUMN_TYPES,
  collectMapping,
  collectSuppressionMapping,
  collectType,
  importOptions,
  PRESETS,
} from "./lib/import-options.mjs";
import { addAuditCommand, addKeyCommands } from "./lib/keys.mjs";
import { formatDuration } from "./lib/progress.mjs";
import { writeSuppressionExport } from "./lib/suppressions.mjs";
import { DEFAULT_CONCURRENCY, DEFAULT_PART_BYTES } from "./lib/upload.mjs";

const MiB = 1024 * 1024;
const tty = Boolean(process.stdout.isTTY);
const client = () =>
  createClient({
    url: process.env.HOGSEND_URL || DEFAULT_URL,
    adminKey: process.env.HOGSEND_ADMIN_KEY,
    insecure: Boolean(program.opts().insecure),
  });

/** An export holds personal data: the file is its owner's alone, even when it existed before. @param {string} file */
function privateFile(file) {
  const fd = openSync(file, "w", 0o600);
  fchmodSync(fd, 0o600);
  return createWriteStream(file, { fd });
}

const program = new Command("hogsend")
  .description(
    "Import and export Hogsend contacts and the suppression list, manage import jobs and API keys, and read the audit log.",
  )
  .option("--insecure", "allow a plain http:// HOGSEND_URL to another machine (the admin key travels in clear)")
  .addHelpText(
    "after",
    `
Environment:
  HOGSEND_URL          the deployment (default ${DEFAULT_URL}); https://, or http:// to this machine only
  HOGSEND_ADMIN_KEY    an API key (required): its ADMIN_API_KEY, or a stored hsk_ key with the
                       scope the command needs (operate: import, export, cancel; read: jobs,
                       audit; admin: keys)

Examples:
  hogsend import audience.csv
  hogsend import people.ndjson --allow-failed-rows
  hogsend import subscribed_members_export.csv --preset mailchimp
  hogsend export --out all.csv
  hogsend export --format ndjson --search @example.com > example.ndjson
  hogsend jobs
  hogsend cancel 0193f3c2-5a1e-7c55-9a53-2f1c0b7f4e21
  hogsend keys create --name ci --scope operate
  hogsend audit --since 1d
  hogsend suppressions import bounces.csv --preset postmark --dry-run
  hogsend suppressions export --out list.csv
  hogsend broadcast --template product-update --topic product-updates --where plan=pro --dry-run`,
  );

/** @param {string} value */
const partSize = (value) => {
  const mib = Number(value);
  if (!Number.isInteger(mib) || mib < 5 || mib > 95) throw new InvalidArgumentError("a whole number of MiB, 5 to 95");
  return mib * MiB;
};

/** @param {string} value */
const concurrency = (value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new InvalidArgumentError("a whole number, 1 to 8");
  return n;
};

program
  .command("import")
  .description("Import contacts from a CSV, JSON or NDJSON file of any size, with progress, until the job ends")
  .argument("<file>", "the file to import")
  .addOption(new Option("--format <format>", "how to parse it (default: from the extension)").choices(IMPORT_FORMATS))
  .addOption(new Option("--preset <tool>", "column mapping and types for another tool's export").choices(PRESETS))
  .option(
    "--map <column=field>",
    "map a column: to externalId, email, unsubscribed, suppressed or a property name; COLUMN= drops it (repeatable)",
    collectMapping,
  )
  .option("--type <column=type>", `convert a column: ${COLUMN_TYPES.join(", ")} (repeatable)`, collectType)
  .option("--dry-run", "read and validate the whole file and report what would happen; write nothing")
  .option("--allow-failed-rows", "exit 0 even when some rows failed (the job still must complete)")
  .addOption(
    new Option("--part-size <MiB>", "upload part size; a file up to one part goes in one request")
      .argParser(partSize)
      .default(DEFAULT_PART_BYTES, "64"),
  )
  .addHelpText(
    "after",
    `
Files up to one part's size go in one request; bigger ones as a multipart upload. Failed rows are
written to FILE.errors.csv. Exits 1 if the job failed or was cancelled, or if rows failed (unless
--allow-failed-rows).

Examples:
  hogsend import audience.csv
  hogsend import subscribed_members_export.csv --preset mailchimp --dry-run
  hogsend import people.csv --map "User ID=externalId" --map "E-mail=email" --map notes= --type seats=number
  hogsend import big-export.ndjson --part-size 32`,
  )
  .option("--concurrency <n>", "parts uploaded at once (1 to 8)", concurrency, DEFAULT_CONCURRENCY)
  .action(async (file, opts) => {
    // The first Ctrl-C stops cleanly (an upload in progress is aborted on the server); a second one kills.
    const interrupt = new AbortController();
    process.once("SIGINT", () => interrupt.abort());
    process.exitCode = await importCommand(client(), {
      file,
      format: opts.format,
      options: importOptions(opts),
      concurrency: opts.concurrency,
      signal: interrupt.signal,
      allowFailedRows: Boolean(opts.allowFailedRows),
      partBytes: opts.partSize,
      tty,
    });
  });

program
  .command("export")
  .description("Export every contact, following the export's cursors to the end")
  .addOption(new Option("--format <format>", "output format").choices(EXPORT_FORMATS).default("csv"))
  .option("--search <text>", "only contacts whose email or externalId contains this")
  .option("--out <file>", "write here instead of stdout")
  .addHelpText(
    "after",
    `
CSV has one column per property key found in any exported contact; JSON is one array of contacts;
NDJSON is one contact per line. Each imports back with \`hogsend import\` (a JSON array up to 10 MB).

Examples:
  hogsend export --out all.csv
  hogsend export --format ndjson --search @acme.com --out acme.ndjson`,
  )
  .action(async (opts) => {
    // Ctrl-C mid-export: a truncated file would look complete, so it goes, with the spool.
    exitCleanlyOnSignals(`hogsend: interrupted; ${opts.out ? `${opts.out} was removed` : "the export is incomplete"}`);
    const out = opts.out ? privateFile(opts.out) : process.stdout;
    const keepOut = opts.out ? removeOnExit(opts.out) : () => {};
    const status = opts.out ? process.stdout : process.stderr;
    const began = Date.now();
    /** @param {number} rows */
    const onPage = (rows) => {
      const line = `Exported ${rows.toLocaleString("en")} contacts (${formatDuration((Date.now() - began) / 1000)})`;
      status.write(tty && opts.out ? `\r${line}` : `${line}\n`);
    };
    const rows = await writeExport(client(), { format: opts.format, search: opts.search, out, onPage });
    if (opts.out) {
      out.end();
      await finished(out);
      status.write(`${tty ? "\n" : ""}Wrote ${rows.toLocaleString("en")} contacts to ${opts.out}\n`);
    }
    keepOut();
  });

program
  .command("jobs")
  .description("List import jobs, newest first")
  .option("--limit <n>", "how many", (v) => Number.parseInt(v, 10), 20)
  .addHelpText("after", "\nExample:\n  hogsend jobs --limit 5")
  .action(async (opts) => {
    const api = client();
    const { imports } = await api.call(
      api.api.GET("/v1/admin/contacts/imports", { params: { query: { limit: opts.limit } } }),
    );
    if (imports.length === 0) return void console.log("No import jobs yet");
    console.log(["JOB", "STATUS", "ROWS", "IMPORTED", "FAILED", "CREATED", "FILE"].join("\t"));
    for (const j of imports) {
      const row = [j.id, j.status, j.totalRows ?? "?", j.processedRows, j.failedRows, j.createdAt, j.fileName ?? ""];
      console.log(row.join("\t"));
    }
  });

program
  .command("cancel")
  .description("Cancel a pending or processing import job")
  .argument("<job>", "the job id")
  .addHelpText("after", "\nExample:\n  hogsend cancel 0193f3c2-5a1e-7c55-9a53-2f1c0b7f4e21")
  .action(async (job) => {
    const api = client();
    printSummary(
      await api.call(api.api.POST("/v1/admin/contacts/import/{jobId}/cancel", { params: { path: { jobId: job } } })),
    );
  });

program
  .command("broadcast")
  .description("Send one email to a segment of contacts (preview it with --dry-run), with progress until it ends")
  .requiredOption("--template <key>", "the email template")
  .requiredOption("--topic <key>", "the topic it is sent under (opt-outs of it are skipped)")
  .option(
    "--where <condition>",
    "plan=pro, seats>=10, plan!=free, name~acme, trial?, !trial (repeatable)",
    collectWhere,
  )
  .option("--search <text>", "contacts whose email or externalId contains this")
  .option("--import <jobId>", "contacts last written by this import")
  .option("--data <json>", "the template's data, a JSON object", parseData)
  .option("--name <name>", "a name to find it by")
  .option("--dry-run", "count and render three samples; send nothing")
  .option("--send-at <time>", "start at this ISO time (cancellable before)")
  .option("--rate <perMinute>", "at most this many emails a minute", (v) => Number.parseInt(v, 10))
  .addHelpText(
    "after",
    `\nExample:\n  hogsend broadcast --template product-update --topic product-updates --where plan=pro --data '{"headline":"We moved","body":"New home"}' --dry-run`,
  )
  .action(async (opts) => {
    const filter = {
      ...(opts.where ? { where: opts.where } : {}),
      ...(opts.search ? { search: opts.search } : {}),
      ...(opts.import ? { importJobId: opts.import } : {}),
    };
    const body = {
      template: opts.template,
      topic: opts.topic,
      filter,
      ...(opts.data ? { data: opts.data } : {}),
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.sendAt ? { sendAt: new Date(opts.sendAt).toISOString() } : {}),
      ...(opts.rate ? { ratePerMinute: opts.rate } : {}),
    };
    process.exitCode = await broadcastCommand(client(), { body, tty });
  });

addKeyCommands(program, client);
addAuditCommand(program, client);

const suppressions = program
  .command("suppressions")
  .description("Import and export the suppression list (addresses never to email)");

suppressions
  .command("import")
  .description("Import a suppression list (another sender's export, or a plain list) with progress, until the job ends")
  .argument("<file>", "the file to import")
  .addOption(new Option("--format <format>", "how to parse it (default: from the extension)").choices(IMPORT_FORMATS))
  .addOption(new Option("--preset <sender>", "the columns of another sender's export").choices(SUPPRESSION_PRESETS))
  .addOption(
    new Option("--reason <reason>", "the reason of rows without one (required with sendgrid and mailgun)").choices(
      SUPPRESSION_REASONS,
    ),
  )
  .option("--source <name>", "the source of rows without one (default: the preset's name, else import)")
  .option(
    "--map <column=field>",
    "map a column: to address, reason, date or source; COLUMN= ignores it (repeatable)",
    collectSuppressionMapping,
  )
  .option("--dry-run", "read and validate the whole file and report what would happen; suppress nothing")
  .option("--allow-failed-rows", "exit 0 even when some rows were invalid (the job still must complete)")
  .addOption(
    new Option("--part-size <MiB>", "upload part size; a file up to one part goes in one request")
      .argParser(partSize)
      .default(DEFAULT_PART_BYTES, "64"),
  )
  .option("--concurrency <n>", "parts uploaded at once (1 to 8)", concurrency, DEFAULT_CONCURRENCY)
  .addHelpText(
    "after",
    `
Nothing already suppressed is changed or lifted, no contact is created, and the same file twice
changes nothing. Invalid rows are written to FILE.errors.csv. Exits 1 if the job failed or was
cancelled, or if rows were invalid (unless --allow-failed-rows).

Examples:
  hogsend suppressions import bounces.csv --preset postmark --dry-run
  hogsend suppressions import spam_reports.csv --preset sendgrid --reason complaint
  hogsend suppressions import blocked.csv --map "Blocked Address=address" --reason manual --source old-esp`,
  )
  .action(async (file, opts) => {
    const interrupt = new AbortController();
    process.once("SIGINT", () => interrupt.abort());
    process.exitCode = await importCommand(client(), {
      file,
      format: opts.format,
      suppressions: {
        ...(opts.preset ? { preset: opts.preset } : {}),
        ...(opts.reason ? { reason: opts.reason } : {}),
        ...(opts.source ? { source: opts.source } : {}),
        ...(opts.map ? { mapping: opts.map } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      },
      concurrency: opts.concurrency,
      signal: interrupt.signal,
      allowFailedRows: Boolean(opts.allowFailedRows),
      partBytes: opts.partSize,
      tty,
    });
  });

suppressions
  .command("export")
  .description("Export the suppression list, following the export's cursors to the end")
  .addOption(new Option("--format <format>", "output format").choices(SUPPRESSION_EXPORT_FORMATS).default("csv"))
  .option("--reason <reason>", "only entries with this reason")
  .option("--source <name>", "only entries from this source")
  .option("--out <file>", "write here instead of stdout")
  .addHelpText(
    "after",
    `
Columns address, reason, source, createdAt; an erased person's entry is its keyed hash, never an
address. The file imports back with \`hogsend suppressions import\`.

Examples:
  hogsend suppressions export --out list.csv
  hogsend suppressions export --format ndjson --reason complaint > complaints.ndjson`,
  )
  .action(async (opts) => {
    exitCleanlyOnSignals(`hogsend: interrupted; ${opts.out ? `${opts.out} was removed` : "the export is incomplete"}`);
    const out = opts.out ? privateFile(opts.out) : process.stdout;
    const keepOut = opts.out ? removeOnExit(opts.out) : () => {};
    const status = opts.out ? process.stdout : process.stderr;
    const rows = await writeSuppressionExport(client(), {
      format: opts.format,
      out,
      reason: opts.reason,
      source: opts.source,
      onPage: (n) =>
        status.write(
          `${tty && opts.out ? "\r" : ""}Exported ${n.toLocaleString("en")} suppressions${tty && opts.out ? "" : "\n"}`,
        ),
    });
    if (opts.out) {
      out.end();
      await finished(out);
      status.write(`${tty ? "\n" : ""}Wrote ${rows.toLocaleString("en")} suppressions to ${opts.out}\n`);
    }
    keepOut();
  });

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof ApiError && err.code === "ABORTED") {
    console.error("hogsend: interrupted; the upload was discarded and nothing was imported");
    process.exit(130);
  }
  const where =
    err instanceof ApiError && err.status
      ? ` (HTTP ${err.status} ${err.code ?? ""}, request ${err.requestId ?? "?"})`
      : "";
  console.error(`hogsend: ${err instanceof Error ? err.message : String(err)}${where}`);
  process.exitCode = 1;
}
