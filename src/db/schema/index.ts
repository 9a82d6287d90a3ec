export * from "./contacts";
export * from "./events";
