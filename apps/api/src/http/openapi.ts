import * as protocol from "@parley/protocol";
import { Router } from "express";
import { z } from "zod";

interface RouteSpec {
  readonly method: "get" | "post" | "patch" | "delete";
  /** Express-style path under /v1 (`:id` parameters). */
  readonly path: string;
  readonly summary: string;
  readonly body?: z.ZodType;
  readonly query?: z.ZodObject;
  readonly response?: z.ZodType;
  readonly status?: number;
  readonly auth?: boolean;
}

const empty = z.object({});

/** Every REST endpoint of PROTOCOL.md, with the zod schemas the routers parse with. */
export const API_ROUTES: readonly RouteSpec[] = [
  { method: "post", path: "/auth/register", summary: "Create an account", body: protocol.registerBody, response: protocol.authResponse, status: 201, auth: false },
  { method: "post", path: "/auth/login", summary: "Log in", body: protocol.loginBody, response: protocol.authResponse, auth: false },
  { method: "post", path: "/auth/logout", summary: "Revoke the presented token on every node", status: 204 },
  { method: "get", path: "/users/me", summary: "The caller", response: protocol.me },
  { method: "patch", path: "/users/me", summary: "Update the caller", body: protocol.updateMeBody, response: protocol.me },
  { method: "get", path: "/users", summary: "Users the caller may contact, matching q", query: protocol.userSearchQuery, response: protocol.userPage },
  { method: "post", path: "/conversations", summary: "Open a direct, group or support conversation (200 with the existing direct one)", body: protocol.createConversationBody, response: protocol.conversation, status: 201 },
  { method: "get", path: "/conversations", summary: "The caller's conversations, most recent activity first", query: protocol.conversationListQuery, response: protocol.conversationPage },
  { method: "get", path: "/conversations/:id", summary: "One conversation with its participants", response: protocol.conversation },
  { method: "patch", path: "/conversations/:id/settings", summary: "Mute or archive for the caller only", body: protocol.conversationSettingsBody, response: protocol.conversation },
  { method: "post", path: "/conversations/:id/participants", summary: "Add group members", body: protocol.addParticipantsBody, response: protocol.participantList },
  { method: "delete", path: "/conversations/:id/participants/:user_id", summary: "Remove a group member (or leave)", status: 204 },
  { method: "post", path: "/conversations/:id/messages", summary: "Send a message (idempotent by client_msg_id: 200 with the first message on a retry)", body: protocol.sendMessageBody, response: protocol.message, status: 201 },
  { method: "get", path: "/conversations/:id/messages", summary: "History by keyset on seq, ascending", query: protocol.historyQuery, response: protocol.messagePage },
  { method: "patch", path: "/messages/:id", summary: "Edit a message (sender only)", body: protocol.editMessageBody, response: protocol.message },
  { method: "delete", path: "/messages/:id", summary: "Delete a message (sender or group admin); leaves a tombstone", status: 204 },
  { method: "post", path: "/conversations/:id/read", summary: "Mark read up to a seq (never moves backwards)", body: protocol.readBody, response: protocol.readResponse },
  { method: "get", path: "/unread", summary: "Unread counts per conversation and total (muted excluded from total)", response: protocol.unreadSummary },
  { method: "get", path: "/search/messages", summary: "Full-text search over the caller's conversations", query: protocol.searchQuery, response: protocol.searchPage },
  { method: "post", path: "/conversations/:id/restore", summary: "Bring back a conversation archived for being idle", response: protocol.conversation },
  { method: "post", path: "/relationships", summary: "Link two users (service or admin tokens)", body: protocol.relationshipBody, status: 201 },
  { method: "delete", path: "/relationships", summary: "Unlink two users (service or admin tokens)", body: protocol.relationshipBody, status: 204 },
  { method: "get", path: "/presence", summary: "Presence of users the caller may see, or online contacts", query: protocol.presenceQuery, response: protocol.presenceList },
  { method: "get", path: "/stats", summary: "Cluster connection statistics (admin or service)", response: protocol.stats },
  { method: "post", path: "/auth/confirm-email", summary: "Confirm an e-mail address with the token of the mailed link", body: protocol.confirmEmailBody, status: 200, auth: false },
  { method: "post", path: "/users/:id/block", summary: "Block a user (closes your direct conversation both ways)", status: 204 },
  { method: "delete", path: "/users/:id/block", summary: "Unblock a user", status: 204 },
  { method: "get", path: "/blocks", summary: "The users the caller blocked", query: protocol.blockListQuery, response: protocol.blockList },
  { method: "post", path: "/reports", summary: "Report a message or a user", body: protocol.reportBody, response: protocol.report, status: 201 },
  { method: "get", path: "/reports", summary: "Reports, newest first, with filters (moderators)", query: protocol.reportListQuery, response: protocol.reportList },
  { method: "get", path: "/reports/:id", summary: "One report (moderators)", response: protocol.report },
  { method: "post", path: "/reports/:id/resolve", summary: "Resolve a report, taking one moderator action", body: protocol.resolveReportBody, response: protocol.report },
  { method: "post", path: "/admin/users", summary: "Provision a user of any role (admin or service)", body: protocol.provisionUserBody, response: protocol.me, status: 201 },
  { method: "patch", path: "/admin/users/:id", summary: "Change a user's role (admin or service)", body: protocol.changeRoleBody, response: protocol.me },
  { method: "post", path: "/admin/users/:id/suspend", summary: "Suspend: tokens refused and sockets closed on every node", body: protocol.suspendBody, status: 204 },
  { method: "post", path: "/admin/users/:id/reinstate", summary: "Reinstate a suspended user", status: 204 },
  { method: "get", path: "/admin/audit", summary: "The audit log of moderator, admin and service actions (admins)", query: protocol.auditQuery, response: protocol.auditList },
  { method: "get", path: "/users/me/export", summary: "The caller's data as a JSON download (GDPR art. 15/20)" },
  { method: "delete", path: "/users/me", summary: "Erase the caller's account (GDPR art. 17)", status: 204 },
  { method: "get", path: "/admin/users/:id/export", summary: "A user's data as a JSON download (admins)" },
  { method: "delete", path: "/admin/users/:id", summary: "Erase a user's account (admins)", status: 204 },
];

function jsonSchema(schema: z.ZodType, io: "input" | "output"): unknown {
  return z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" });
}

/** OpenAPI 3.1 (whose schemas are JSON Schema 2020-12), generated from the same zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of API_ROUTES) {
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
    paths[path] ??= {};
    paths[path][route.method] = {
      summary: route.summary,
      ...(route.auth === false ? { security: [] } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(route.body, "input") } } } } : {}),
      responses: {
        [status]: route.response
          ? { description: "OK", content: { "application/json": { schema: jsonSchema(route.response, "output") } } }
          : { description: "No content" },
        default: { description: "Error", content: { "application/json": { schema: jsonSchema(protocol.errorBody, "output") } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Parley API", version: "1.0.0", description: "REST API of Parley. See docs/PROTOCOL.md for WebSocket frames and delivery guarantees." },
    servers: [{ url: "/" }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } },
    security: [{ bearer: [] }],
    paths,
  };
}

export function openApiRouter(): Router {
  const router = Router();
  let document: Record<string, unknown> | undefined;
  router.get("/openapi.json", (_req, res) => {
    document ??= openApiDocument();
    res.json(document);
  });
  return router;
}
