export * from "./backfills";
export * from "./contacts";
export * from "./dead-letters";
export * from "./emails";
export * from "./events";
export * from "./import-uploads";
export * from "./imports";
export * from "./journeys";
