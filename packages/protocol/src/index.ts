export * from "./common";
export * from "./errors";
export * from "./events";
export * from "./frames";
export * from "./rest";
export * from "./server-frames";
export * from "./rest-routes";
export * from "./wire";
