import type { schema } from "@parley/db";

export type MessageRow = typeof schema.messages.$inferSelect;
export { toWireMessage as toMessage } from "@parley/protocol";
