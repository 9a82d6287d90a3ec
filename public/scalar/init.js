// Mounts Scalar's API reference on /docs (a file, not an inline script: the page's CSP is
// script-src 'self'). Everything it loads comes from this origin: the document, the bundle, and
// try-it requests (the document's server is "/"). No web fonts, no telemetry, no AI agent.
globalThis.Scalar.createApiReference("#reference", {
  url: "/openapi.json",
  withDefaultFonts: false,
  telemetry: false,
  agent: { disabled: true },
  mcp: { disabled: true },
  showDeveloperTools: "never",
  documentDownloadType: "json",
  defaultOpenAllTags: true,
  persistAuth: false,
  hideClientButton: true, // its "Open API Client" leads to a hosted app on another origin
  defaultHttpClient: { targetKey: "shell", clientKey: "curl" },
});
