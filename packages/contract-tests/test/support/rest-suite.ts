import { afterAll, beforeAll, expect } from "vitest";
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

/** Starts the file's API before its tests and stops it after; the client talks to it once it is up. */
export function useRestCluster(): Rest {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster({
      edges: 0,
      api: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, MESSAGE_RATE_LIMIT: String(MESSAGE_RATE_LIMIT) },
    });
  });
  afterAll(async () => {
    await cluster?.close();
  });
  return new Rest(() => {
    if (!cluster) throw new Error("the API is not started yet (use the client inside tests)");
    return cluster.api.url;
  });
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
