export * from "./contacts";
export * from "./dead-letters";
export * from "./emails";
export * from "./events";
export * from "./imports";
export * from "./journeys";
