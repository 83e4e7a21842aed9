import { expect } from "vitest";
import { startCluster, type Cluster } from "./cluster";
import { errorBody } from "./contract";
import { Rest, shape, type Reply } from "./rest";
import type { SignOptions } from "./tokens";

// What every REST contract file shares: one API process (no edges), configured as an identity provider's
// relying party so external tokens can be signed with the issuer and audience below.
export const ISSUER = "https://id.contract.test";
export const AUDIENCE = "parley-contract";
export const MESSAGE_RATE_LIMIT = 20;
export const idp: SignOptions = { issuer: ISSUER, audience: AUDIENCE };

export async function startRestCluster(): Promise<{ cluster: Cluster; rest: Rest }> {
  const cluster = await startCluster({
    edges: 0,
    api: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, MESSAGE_RATE_LIMIT: String(MESSAGE_RATE_LIMIT) },
  });
  return { cluster, rest: new Rest(cluster.api.url) };
}

/** Asserts the contract's error answer: the status and {"error": {code, message}}; returns the error object. */
export function expectError(reply: Reply, status: number): { code: string; message: string; field?: unknown } {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  const body = shape(errorBody, reply.body);
  const error: { code: string; message: string; field?: unknown } = body.error;
  return error;
}

/** A 400 must name the offending field (in `field`, or at least in the message). */
export function expectBadField(reply: Reply, field: string): void {
  const error = expectError(reply, 400);
  expect(error.field === field || error.message.includes(field), `400 naming ${field}: ${JSON.stringify(error)}`).toBe(true);
}

export const messagesOf = (conversationId: string) => `/v1/conversations/${conversationId}/messages`;
