// Capacity (issue 15): bytes per contact, event, email and enrollment in D1, indexes included.
// Loads known numbers of realistic rows into a local SQLite file with the project's migrations
// applied (D1 is SQLite; a D1 database's size is its file size), then asks SQLite's dbstat how
// many bytes of pages each table and each of its indexes takes, and turns that into what D1's
// 10 GB per database holds.
//
//   npm run bench:capacity              (CAPACITY_SCALE=<multiplier of the row counts>, default 1)
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { v7 as uuidv7 } from "uuid";
import { ROOT, TMP_DIR } from "./lib/dev-server.mjs";
import { fmt, machineFacts, table, writeSection } from "./lib/results.mjs";

const SCALE = Number(process.env.CAPACITY_SCALE ?? 1);
const COUNTS = {
  contacts: 100_000 * SCALE,
  events: 200_000 * SCALE,
  emails: 50_000 * SCALE,
  enrollments: 50_000 * SCALE,
};
const D1_LIMIT_BYTES = 10 * 1000 ** 3; // 10 GB per database (decimal GB, the smaller reading)
const DB_FILE = path.join(TMP_DIR, "capacity.sqlite");

// ---- deterministic, realistic-looking rows ----
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const FIRST = ["ada", "grace", "alan", "linus", "barbara", "ken", "margaret", "dennis", "radia", "edsger"];
const LAST = [
  "lovelace",
  "hopper",
  "turing",
  "torvalds",
  "liskov",
  "thompson",
  "hamilton",
  "ritchie",
  "perlman",
  "dijkstra",
];
const DOMAINS = ["gmail.com", "outlook.com", "acme.io", "example.org", "fastmail.com"];
const PLANS = ["free", "starter", "pro", "enterprise"];
const EVENTS = [
  "user:signed_up",
  "page:viewed",
  "feature:used",
  "cart:item_added",
  "checkout:completed",
  "session:started",
];
const PATHS = ["/", "/pricing", "/docs/getting-started", "/settings/billing", "/dashboard", "/blog/launch-week"];
const TEMPLATES = [
  ["welcome", "Welcome to Acme, {name}!", "activation-welcome", "welcome"],
  ["activation-tips", "3 tips to get the most out of Acme", "activation-welcome", "tips"],
  ["cart-reminder", "You left something in your cart", "cart-recovery", "reminder"],
];

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

function contactRow(i) {
  const first = pick(FIRST);
  const last = pick(LAST);
  const seen = T0 + Math.floor(random() * 300 * DAY);
  const properties = JSON.stringify({
    name: `${first[0].toUpperCase()}${first.slice(1)} ${last[0].toUpperCase()}${last.slice(1)}`,
    plan: pick(PLANS),
    company: `${pick(LAST)} ${pick(["Labs", "Inc", "GmbH", "Ltd"])}`,
    signupSource: pick(["google", "direct", "referral", "posthog"]),
  });
  return [
    uuidv7(),
    `user_${String(i).padStart(8, "0")}`,
    `${first}.${last}${i}@${pick(DOMAINS)}`,
    properties,
    null,
    seen,
    seen + Math.floor(random() * 30 * DAY),
    seen,
    seen,
  ];
}

function eventRow(i, contactCount) {
  const user = Math.floor(random() * contactCount);
  const occurred = T0 + Math.floor(random() * 300 * DAY);
  const event = pick(EVENTS);
  const properties = JSON.stringify(
    event === "checkout:completed"
      ? { orderId: `ord_${i}`, value: Math.round(random() * 20000) / 100, currency: "EUR" }
      : { path: pick(PATHS), plan: pick(PLANS), sessionId: `s_${Math.floor(random() * 1e9).toString(36)}` },
  );
  // Most producers send an idempotency key (a UUID); webhooks from PostHog carry their own.
  const key = random() < 0.9 ? crypto.randomUUID() : null;
  return [
    uuidv7(),
    event,
    `user_${String(user).padStart(8, "0")}`,
    random() < 0.3 ? `user${user}@${pick(DOMAINS)}` : null,
    properties,
    key,
    pick(["api", "batch", "posthog"]),
    occurred,
    occurred + 150,
    occurred + 900,
  ];
}

function emailRow(_i, contactCount) {
  const user = Math.floor(random() * contactCount);
  const [template, subject, journey, step] = pick(TEMPLATES);
  const created = T0 + Math.floor(random() * 300 * DAY);
  const name = pick(FIRST);
  // As the Resend provider leaves it: delivered, no rendered copy kept (html/text null).
  return [
    uuidv7(),
    `user_${String(user).padStart(8, "0")}`,
    `${name}${user}@${pick(DOMAINS)}`,
    template,
    JSON.stringify({ name }),
    subject.replace("{name}", name),
    null,
    null,
    "delivered",
    "resend",
    crypto.randomUUID(),
    journey,
    uuidv7(),
    step,
    created,
    created + 4000,
    created + 1000,
    created + 4000,
  ];
}

function enrollmentRow(i, contactCount) {
  const user = i % contactCount; // at most one running enrollment per journey and user
  const enrolled = T0 + Math.floor(random() * 300 * DAY);
  const done = random() < 0.7;
  return [
    uuidv7(),
    pick(["activation-welcome", "cart-recovery"]),
    `user_${String(user).padStart(8, "0")}`,
    done ? "completed" : "waiting",
    uuidv7(),
    "event",
    done ? null : "checkout:completed",
    enrolled,
    enrolled + 3 * DAY,
    done ? enrolled + 3 * DAY : null,
  ];
}

/** @type {Record<string, [string, (i: number, contacts: number) => unknown[]]>} */
const INSERTS = {
  contacts: [
    "INSERT INTO contacts (id, external_id, email, properties, unsubscribed_at, first_seen_at, last_seen_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
    contactRow,
  ],
  events: [
    "INSERT INTO events (id, event, user_id, user_email, properties, idempotency_key, source, occurred_at, received_at, processed_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    eventRow,
  ],
  emails: [
    "INSERT INTO emails (id, user_id, to_address, template_key, props, subject, html, text, status, provider, provider_message_id, journey_key, enrollment_id, step_key, created_at, updated_at, sent_at, delivered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    emailRow,
  ],
  enrollments: [
    "INSERT INTO enrollments (id, journey_key, user_id, status, trigger_event_id, source, waiting_for, enrolled_at, updated_at, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    enrollmentRow,
  ],
};

function load(db) {
  for (const [tableName, [sql, makeRow]] of Object.entries(INSERTS)) {
    const statement = db.prepare(sql);
    const started = performance.now();
    db.exec("BEGIN");
    for (let i = 0; i < COUNTS[tableName]; i++) statement.run(...makeRow(i, COUNTS.contacts));
    db.exec("COMMIT");
    console.log(`  ${tableName}: ${fmt.int(COUNTS[tableName])} rows in ${fmt.ms(performance.now() - started)} ms`);
  }
}

/** Bytes of pages per table: the table itself plus every index on it (automatic ones included). */
function measure(db) {
  const pages = new Map(
    db
      .prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name")
      .all()
      .map((r) => [r.name, r.bytes]),
  );
  const owners = db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')").all();
  return Object.keys(COUNTS).map((tableName) => {
    const objects = owners.filter((o) => o.tbl_name === tableName);
    const tableBytes = pages.get(tableName) ?? 0;
    const indexBytes = objects
      .filter((o) => o.name !== tableName)
      .reduce((sum, o) => sum + (pages.get(o.name) ?? 0), 0);
    const rows = COUNTS[tableName];
    return {
      tableName,
      rows,
      tableBytes,
      indexBytes,
      perRow: (tableBytes + indexBytes) / rows,
      indexes: objects.length - 1,
    };
  });
}

async function main() {
  mkdirSync(TMP_DIR, { recursive: true });
  rmSync(DB_FILE, { force: true });
  const db = new DatabaseSync(DB_FILE);
  db.exec("PRAGMA cache_size = -262144"); // 256 MiB: the load is one transaction per table
  const migrationsDir = path.join(ROOT, "migrations");
  const migrations = readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  for (const file of migrations) db.exec(readFileSync(path.join(migrationsDir, file), "utf8"));
  const pageSize = db.prepare("PRAGMA page_size").get().page_size;
  console.log(
    `capacity: ${migrations.length} migrations applied to ${path.relative(ROOT, DB_FILE)} (page size ${pageSize} B); loading rows…`,
  );
  load(db);
  const results = measure(db);
  const fileBytes = db
    .prepare("SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()")
    .get().bytes;
  db.close();
  const facts = await machineFacts();
  writeSection("capacity", render({ facts, results, fileBytes, pageSize, migrations }));
  rmSync(DB_FILE, { force: true });
}

function render({ facts, results, fileBytes, pageSize, migrations }) {
  const per = Object.fromEntries(results.map((r) => [r.tableName, r.perRow]));
  const rows = results.map((r) => [
    `\`${r.tableName}\``,
    fmt.int(r.rows),
    `${(r.tableBytes / 2 ** 20).toFixed(1)} MiB`,
    `${(r.indexBytes / 2 ** 20).toFixed(1)} MiB (${r.indexes})`,
    `**${Math.round(r.perRow)}**`,
    fmt.int(D1_LIMIT_BYTES / r.perRow),
  ]);
  // A contact with the mail it gets: one enrollment and one email on average.
  const contactWithMail = per.contacts + per.enrollments + per.emails;
  const mixes = [100_000, 1_000_000, 5_000_000].map((contacts) => {
    const left = D1_LIMIT_BYTES - contacts * contactWithMail;
    return [
      fmt.int(contacts),
      `${((contacts * contactWithMail) / 1e9).toFixed(2)} GB`,
      left > 0 ? fmt.int(left / per.events) : "none",
    ];
  });
  return `## Capacity in D1 (\`npm run bench:capacity\`)

- Date: ${facts.date}
- Machine: \`${facts.uname}\`, ${facts.cpu}; Node ${facts.node} (node:sqlite, SQLite with dbstat); code at commit ${facts.commit}

The ${migrations.length} migrations applied to a fresh SQLite file (D1 is SQLite and counts its file size),
then realistic rows loaded in insertion order (UUIDv7 ids, ~100-byte JSON properties on contacts
and events, 90% of events with an idempotency key, emails as the Resend provider leaves them:
no rendered copy). Bytes come from SQLite's \`dbstat\` (every page of the table and of each of its
indexes, page size ${pageSize} B, free space inside pages included), divided by the row count.
Whole file after loading: ${(fileBytes / 1e9).toFixed(3)} GB.

${table(["table", "rows loaded", "table pages", "index pages (indexes)", "bytes per row", "rows in 10 GB alone"], rows)}

A contact with the mail it gets (one enrollment and one email each): ${Math.round(contactWithMail)} bytes.
What is left of 10 GB for events:

${table(["contacts (each with 1 enrollment + 1 email)", "their size", "events that fit in the rest"], mixes)}

Properties are stored as JSON text inside the row: each byte of properties sent adds about a byte
per row. The log provider also keeps each email's rendered HTML and text in its row: add their size
per email there.`;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
