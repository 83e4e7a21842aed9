import { ParleyError } from "@parley/protocol";
import type { Actor } from "./actor";
import { SERVICE_ROLE } from "./policy";

export function isService(actor: Actor): boolean {
  return actor.role === SERVICE_ROLE;
}

/** The same answer for "does not exist" and "exists but you are not in it": outsiders learn nothing. */
export function conversationNotFound(): ParleyError {
  return new ParleyError("not_found", "No such conversation.");
}

export function unique<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

/**
 * Sends, edits and typing are refused in a closed conversation (history stays readable). Kept to one function over
 * the access row so any access query (single or batched) that selects `conversations.closed_at` can apply it.
 */
export function assertWritable(access: { readonly closed: boolean }): void {
  const refusal = closedRefusal(access);
  if (refusal) throw refusal;
}

/** The same check for batched sends, which answer each item alone instead of throwing. */
export function closedRefusal(access: { readonly closed: boolean }): ParleyError | undefined {
  return access.closed ? new ParleyError("conversation_closed") : undefined;
}
