export * from "./contacts";
export * from "./events";
export * from "./imports";
