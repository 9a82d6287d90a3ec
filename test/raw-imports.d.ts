// Vite's `?raw` suffix: the sample export files in test/fixtures/ as strings.
declare module "*.csv?raw" {
  const text: string;
  export default text;
}

// wrangler.toml as a string, for test/queue-config.test.ts.
declare module "*.toml?raw" {
  const text: string;
  export default text;
}
