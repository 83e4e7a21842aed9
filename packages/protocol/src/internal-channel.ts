import { z } from "zod";
import { role } from "./common";

/**
 * The internal edge→API channel (docs/ARCHITECTURE.md "Internal channel"): not part of the public contract. An edge
 * that presents INTERNAL_SECRET sends commands of users it has verified, many users per frame; the API answers each
 * command by its id, in any order.
 */
export const INTERNAL_CHANNEL_PATH = "/internal/v1/edge";

/** What an edge may ask; each maps to one REST route and answers what that route answers. */
export const internalOp = z.enum([
  /** GET /v1/users/me: the caller's profile (an identity provider's unknown `sub` is provisioned on first use). */
  "me",
  /** Provisions the caller like any authenticated call does, and answers 204 without reading the profile (on connect). */
  "provision",
  /** GET /v1/conversations/:id (membership check). */
  "get_conversation",
  /** GET /v1/conversations/:id/messages?after_seq&limit */
  "history",
  /** POST /v1/conversations/:id/messages */
  "send_message",
  /** PATCH /v1/messages/:id */
  "edit_message",
  /** DELETE /v1/messages/:id */
  "delete_message",
  /** POST /v1/conversations/:id/read */
  "mark_read",
  /** POST /v1/conversations/:id/delivered */
  "mark_delivered",
  /** GET /v1/presence?user_ids */
  "presence",
  /** GET /v1/blocks?limit&cursor: the caller's own blocks (typing from and to them is not delivered). */
  "blocks",
]);
export type InternalOp = z.infer<typeof internalOp>;

/** The verified claims the edge acts on: the API trusts them (the secret proves the edge) but still checks the jti. */
export const internalActor = z.strictObject({
  sub: z.string().min(1).max(255),
  role,
  /** Provisioning an unknown `sub` reads these, as from the token. */
  name: z.string().max(500).optional(),
  email: z.string().max(500).optional(),
  jti: z.string().min(1).max(255).optional(),
  exp: z.number().int().positive(),
});
export type InternalActor = z.infer<typeof internalActor>;

export const internalCommand = z.strictObject({
  /** Unique among the edge's commands in flight; echoed by the answer. */
  id: z.number().int().nonnegative(),
  op: internalOp,
  actor: internalActor,
  /** The client's address as the edge saw it (one field, whatever decides it: the socket or a trusted proxy). */
  client_ip: z.string().max(100).optional(),
  /** The id in the route's path (a conversation or a message), when the route has one. */
  target: z.string().max(200).optional(),
  /** The route's body or query, parsed by the API with the route's own schema (same errors as REST). */
  args: z.unknown().optional(),
});
export type InternalCommand = z.infer<typeof internalCommand>;

/** Commands per frame: the edge sends what piled up in one tick, at most this many. */
export const MAX_INTERNAL_BATCH = 512;

export const internalRequestFrame = z.strictObject({
  type: z.literal("commands"),
  commands: z.array(internalCommand).min(1).max(MAX_INTERNAL_BATCH),
});
export type InternalRequestFrame = z.infer<typeof internalRequestFrame>;

const internalError = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
  retry_after_ms: z.number().int().optional(),
});

/** The route's answer: its HTTP status and body (absent for 204), or its error body. */
export const internalResult = z.discriminatedUnion("ok", [
  z.object({ id: z.number().int().nonnegative(), ok: z.literal(true), status: z.number().int(), body: z.unknown().optional() }),
  z.object({ id: z.number().int().nonnegative(), ok: z.literal(false), status: z.number().int(), error: internalError }),
]);
export type InternalResult = z.infer<typeof internalResult>;

export const internalResponseFrame = z.strictObject({
  type: z.literal("results"),
  results: z.array(internalResult).min(1),
});
export type InternalResponseFrame = z.infer<typeof internalResponseFrame>;
