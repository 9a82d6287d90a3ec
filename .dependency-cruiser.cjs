// The layer rule (README "Architecture"): imports only point down, and nothing forms a cycle.
//   entry points   src/index.ts, app.tsx, http/, routes/, queues/, workflows/, scheduled/
//   composition    src/composition.ts (builds every dependency from the bindings)
//   orchestration  src/pipeline/ (ingest, journey routing, replay, batch enrollment)
//   services       src/services/
//   definitions    src/journeys/, src/emails/ (journeys and templates as code)
//   platform       src/lib/, src/db/, src/providers/
const LAYERS = [
  { name: "entry", path: "^src/(index\\.ts|app\\.tsx|http/|routes/|queues/|workflows/|scheduled/)" },
  { name: "composition", path: "^src/composition\\.ts$" },
  { name: "orchestration", path: "^src/pipeline/" },
  { name: "services", path: "^src/services/" },
  { name: "definitions", path: "^src/(journeys|emails)/" },
  { name: "platform", path: "^src/(lib|db|providers)/" },
];

const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `${layer.name}-imports-upward`,
  comment: `${layer.name} may only import layers below it`,
  severity: "error",
  from: { path: layer.path },
  to: { path: LAYERS.slice(0, i + 1).map((higher) => higher.path) },
}));

/**
 * Entry points validate, call a service and shape the answer: no queries. drizzle-orm (operators,
 * `sql`) and the tables are for services/ and below; the entry layer may import their types, and
 * the stored enums the API names through src/db/vocabulary.ts.
 */
const entryMakesNoQueries = [
  {
    name: "entry-imports-no-drizzle",
    comment: "entry points call services; queries live in services/ and below",
    severity: "error",
    from: { path: LAYERS[0].path },
    to: { path: "^node_modules/drizzle-orm/" },
  },
  {
    name: "entry-imports-no-tables",
    comment: "entry points call services; tables and batch plans are for services/ and below (types are fine)",
    severity: "error",
    from: { path: LAYERS[0].path },
    to: { path: "^src/db/(schema|batch-plan|guarded)", dependencyTypesNot: ["type-only"] },
  },
];

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", from: {}, to: { circular: true } },
    {
      name: "src-never-imports-tests",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench|scripts)/" },
    },
    ...upward,
    ...entryMakesNoQueries,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "worker-configuration\\.d\\.ts" },
  },
};
