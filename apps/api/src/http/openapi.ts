import * as protocol from "@parley/protocol";
import { Router } from "express";
import { z } from "zod";
import { asyncApiDocument } from "./asyncapi";
import { serve } from "./serve";

const empty = z.object({});

/** What each error status means on every endpoint that may answer it. */
const ERROR_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: "Bad input; `field` names the offending one",
  401: "Missing, invalid, expired or revoked token",
  403: "Not allowed by the policy or the caller's role",
  404: "Unknown, or not visible to the caller",
  409: "Conflicts with the current state",
  413: "Too large",
  429: "Rate limited; see Retry-After",
};

const TAG_DESCRIPTIONS: Readonly<Record<string, string>> = {
  accounts: "Registration, login and the caller's profile",
  conversations: "Direct, group and support conversations and their members",
  messages: "Sending, history, edits, deletions and search",
  "read state": "Read and delivered marks, unread counts",
  relationships: "Links between users that a policy may require",
  presence: "Presence and cluster statistics",
  documents: "Machine-readable descriptions of the protocol",
  safety: "Blocking, reporting and moderation",
  admin: "Provisioning, roles, suspension, the audit log and data-subject requests (admins)",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): unknown {
  return z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" });
}

/** OpenAPI 3.1 (whose schemas are JSON Schema 2020-12), generated from the protocol's route table and zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of Object.entries(protocol.restRoutes) as [protocol.RestOperation, protocol.RestRoute][]) {
    const path = `/v1${route.path.replace(/:(\w+)/g, "{$1}")}`;
    const parameters = [
      ...[...route.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } })),
      ...Object.entries((route.query ?? empty).shape).map(([name, schema]) => ({
        name,
        in: "query",
        required: !(schema as z.ZodType).safeParse(undefined).success,
        schema: jsonSchema(schema as z.ZodType, "input"),
      })),
    ];
    const status = String(route.status ?? 200);
    const errorStatuses = [...new Set([...route.errors, ...(route.auth === false ? [] : [401]), 429])].sort();
    const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId,
      summary: route.summary,
      tags: [route.tag],
      ...(route.auth === false ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(route.body, "input") } } } } : {}),
      responses: {
        [status]: route.response
          ? { description: "OK", content: { "application/json": { schema: jsonSchema(route.response, "output") } } }
          : { description: "No content" },
        ...Object.fromEntries(errorStatuses.map((code) => [String(code), errorResponse(ERROR_DESCRIPTIONS[code] ?? "Error")])),
        default: errorResponse("Unexpected error (5xx: retry later)"),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Parley API",
      version: "1.0.0",
      description: "REST API of Parley. The WebSocket protocol is described by the AsyncAPI document at /v1/asyncapi.json; see docs/PROTOCOL.md for delivery guarantees.",
      license: { name: "MIT", url: "https://opensource.org/license/mit" },
    },
    servers: [{ url: "/" }],
    tags: Object.entries(TAG_DESCRIPTIONS).map(([name, description]) => ({ name, description })),
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: jsonSchema(protocol.errorBody, "output") },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** GET /v1/openapi.json and GET /v1/asyncapi.json: the documents, without a token, built once. */
export function openApiRouter(): Router {
  const router = Router();
  let openApi: Record<string, unknown> | undefined;
  let asyncApi: Record<string, unknown> | undefined;
  serve(router, "getOpenApi", (_req, res) => {
    openApi ??= openApiDocument();
    res.json(openApi);
  });
  serve(router, "getAsyncApi", (_req, res) => {
    asyncApi ??= asyncApiDocument();
    res.json(asyncApi);
  });
  return router;
}
