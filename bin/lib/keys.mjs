// `hogsend keys …` and `hogsend audit`: API keys and the audit log of one deployment.
import { InvalidArgumentError, Option } from "commander";
import { API_KEY_SCOPES } from "hogsend-workers/client";

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `30m`, `12h`, `1d`, `2w` as milliseconds.
 * @param {string} value @returns {number}
 */
export function parseDuration(value) {
  const match = /^(\d+)([smhdw])$/.exec(value.trim());
  if (!match || Number(match[1]) === 0) throw new InvalidArgumentError("a duration like 30m, 12h, 1d or 2w");
  return Number(match[1]) * UNIT_MS[/** @type {keyof typeof UNIT_MS} */ (match[2])];
}

/** @param {string} value @param {string[]} [previous] */
const collectScope = (value, previous = []) => {
  if (!API_KEY_SCOPES.includes(/** @type {any} */ (value))) {
    throw new InvalidArgumentError(`one of ${API_KEY_SCOPES.join(", ")}`);
  }
  return [...previous, value];
};

/** @param {string | null | undefined} at */
const shown = (at) => at ?? "-";

/**
 * @param {import("commander").Command} program
 * @param {() => import("./api.mjs").Client} client
 */
export function addKeyCommands(program, client) {
  const keys = program.command("keys").description("Create, list and revoke API keys (needs an admin key)");

  keys
    .command("create")
    .description("Create a key; it is printed once, and only its hash is stored")
    .requiredOption("--name <name>", "what the key is for (shown in the audit log)")
    .requiredOption("--scope <scope>", `${API_KEY_SCOPES.join(", ")} (repeatable)`, collectScope)
    .addOption(
      new Option("--expires-in <duration>", "refuse it after this long (30m, 12h, 1d, 2w)").argParser(parseDuration),
    )
    .addHelpText("after", "\nExample:\n  hogsend keys create --name ci --scope operate --expires-in 2w")
    .action(async (opts) => {
      const api = client();
      const expiresAt = opts.expiresIn ? new Date(Date.now() + opts.expiresIn).toISOString() : undefined;
      const created = await api.call(
        api.api.POST("/v1/admin/api-keys", { body: { name: opts.name, scopes: opts.scope, expiresAt } }),
      );
      console.log(
        `Created key ${created.id} (${created.name}: ${created.scopes.join(", ")}), expires ${shown(created.expiresAt)}`,
      );
      console.log("Store it now; it is not shown again:");
      console.log(created.key);
    });

  keys
    .command("list")
    .description("List keys, newest first (never their secrets)")
    .option("--all", "include revoked keys")
    .action(async (opts) => {
      const api = client();
      const { keys: list } = await api.call(
        api.api.GET("/v1/admin/api-keys", { params: { query: { includeRevoked: opts.all ? "true" : "false" } } }),
      );
      if (list.length === 0) return void console.log("No stored keys yet (the bootstrap keys are not listed)");
      console.log(["ID", "NAME", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"].join("\t"));
      for (const k of list) {
        const row = [k.id, k.name, k.scopes.join(","), k.createdAt, shown(k.lastUsedAt), shown(k.expiresAt)];
        console.log([...row, shown(k.revokedAt)].join("\t"));
      }
    });

  keys
    .command("revoke")
    .description("Revoke a key: refused everywhere within 60 s")
    .argument("<id>", "the key's id (hogsend keys list)")
    .action(async (id) => {
      const api = client();
      const revoked = await api.call(api.api.DELETE("/v1/admin/api-keys/{keyId}", { params: { path: { keyId: id } } }));
      console.log(`Revoked key ${revoked.id} (${revoked.name}) at ${revoked.revokedAt}`);
    });
}

/**
 * @param {import("commander").Command} program
 * @param {() => import("./api.mjs").Client} client
 */
export function addAuditCommand(program, client) {
  program
    .command("audit")
    .description("Who changed what, newest first: the audit log (needs the read scope)")
    .addOption(new Option("--since <duration>", "only entries this recent (30m, 12h, 1d, 2w)").argParser(parseDuration))
    .option("--key <id>", "only this key's entries")
    .option("--action <operationId>", "only this action, e.g. eraseContact")
    .option("--limit <n>", "at most this many", (v) => Number.parseInt(v, 10), 100)
    .addHelpText("after", "\nExample:\n  hogsend audit --since 1d --action eraseContact")
    .action(async (opts) => {
      const api = client();
      const from = opts.since ? new Date(Date.now() - opts.since).toISOString() : undefined;
      /** @type {string | undefined} */
      let cursor;
      let printed = 0;
      do {
        const limit = Math.min(1000, opts.limit - printed);
        const query = { from, keyId: opts.key, action: opts.action, limit, cursor };
        const page = await api.call(api.api.GET("/v1/admin/audit-log", { params: { query } }));
        if (printed === 0) console.log(["AT", "KEY", "ACTION", "OUTCOME", "STATUS", "TARGETS", "COUNTS"].join("\t"));
        for (const e of page.entries) {
          const counts = Object.entries(e.counts).map(([name, n]) => `${name}=${n}`);
          const row = [e.at, `${e.keyName} (${e.keyId})`, e.action, e.outcome, e.status ?? "-"];
          console.log([...row, e.targetIds.join(",") || "-", counts.join(" ") || "-"].join("\t"));
        }
        printed += page.entries.length;
        cursor = page.nextCursor ?? undefined;
      } while (cursor && printed < opts.limit);
      if (printed === 0) console.log("No entries");
    });
}
