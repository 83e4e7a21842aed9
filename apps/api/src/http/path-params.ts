import { ParleyError, userId, uuid } from "@parley/protocol";

// Path parameters are parsed here, before a service sees them: an id no row can have names nothing (404, never a
// database error), and services take ids that are already well-formed.

export function conversationIdOrNotFound(id: string): string {
  if (!uuid.safeParse(id).success) throw new ParleyError("not_found", "No such conversation.");
  return id;
}

export function messageIdOrNotFound(id: string): string {
  if (!uuid.safeParse(id).success) throw new ParleyError("not_found", "No such message.");
  return id;
}

/** A user id that no user can have names nobody in the conversation. */
export function participantIdOrNotFound(id: string): string {
  if (!userId.safeParse(id).success) throw new ParleyError("not_found", "No such participant.");
  return id;
}
