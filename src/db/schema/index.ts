export * from "./contacts";
export * from "./emails";
export * from "./events";
export * from "./journeys";
export * from "./dead-letters";
export * from "./imports";
