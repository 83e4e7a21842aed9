import { z } from "zod";
import { conversation, me, message } from "./common";
import * as rest from "./rest";

export type HttpMethod = "get" | "post" | "patch" | "delete";

export interface RestRoute {
  readonly method: HttpMethod;
  /** Express-style path under /v1 (`:id` parameters). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly body?: z.ZodType;
  readonly query?: z.ZodObject;
  /** Absent for 204 answers. */
  readonly response?: z.ZodType;
  readonly status?: number;
  /** False for endpoints without a token. */
  readonly auth?: boolean;
  /** Error statuses this endpoint answers besides 401 (when authenticated), 429 and 5xx. */
  readonly errors: readonly number[];
}

/** A machine-readable document (OpenAPI, AsyncAPI): a JSON object of whatever shape. */
export const jsonDocument = z.record(z.string(), z.unknown());

/**
 * Every REST endpoint of docs/PROTOCOL.md, keyed by its operationId, with the zod schemas the API parses with: the
 * API's routers, its OpenAPI document and the SDK's REST client are all generated from this one table.
 */
export const restRoutes = {
  register: { method: "post", path: "/auth/register", tag: "accounts", summary: "Create an account", body: rest.registerBody, response: rest.authResponse, status: 201, auth: false, errors: [400, 403, 409] },
  login: { method: "post", path: "/auth/login", tag: "accounts", summary: "Log in", body: rest.loginBody, response: rest.authResponse, auth: false, errors: [400, 401] },
  logout: { method: "post", path: "/auth/logout", tag: "accounts", summary: "Revoke the presented token on every node", status: 204, errors: [] },
  getMe: { method: "get", path: "/users/me", tag: "accounts", summary: "The caller", response: me, errors: [403] },
  updateMe: { method: "patch", path: "/users/me", tag: "accounts", summary: "Update the caller", body: rest.updateMeBody, response: me, errors: [400, 403] },
  searchUsers: { method: "get", path: "/users", tag: "accounts", summary: "Users the caller may contact, matching q", query: rest.userSearchQuery, response: rest.userPage, errors: [400] },
  createConversation: {
    method: "post",
    path: "/conversations",
    tag: "conversations",
    summary: "Open a direct, group or support conversation (200 with the existing direct one)",
    body: rest.createConversationBody,
    response: conversation,
    status: 201,
    errors: [400, 403, 404],
  },
  listConversations: { method: "get", path: "/conversations", tag: "conversations", summary: "The caller's conversations, most recent activity first", query: rest.conversationListQuery, response: rest.conversationPage, errors: [400] },
  getConversation: { method: "get", path: "/conversations/:id", tag: "conversations", summary: "One conversation with its participants", response: conversation, errors: [400, 404] },
  updateConversationSettings: { method: "patch", path: "/conversations/:id/settings", tag: "conversations", summary: "Mute or archive for the caller only", body: rest.conversationSettingsBody, response: conversation, errors: [400, 404] },
  addParticipants: { method: "post", path: "/conversations/:id/participants", tag: "conversations", summary: "Add group members", body: rest.addParticipantsBody, response: rest.participantList, errors: [400, 403, 404] },
  removeParticipant: { method: "delete", path: "/conversations/:id/participants/:user_id", tag: "conversations", summary: "Remove a group member (or leave)", status: 204, errors: [400, 403, 404] },
  restoreConversation: { method: "post", path: "/conversations/:id/restore", tag: "conversations", summary: "Bring back a conversation archived for being idle", response: conversation, errors: [400, 404] },
  sendMessage: {
    method: "post",
    path: "/conversations/:id/messages",
    tag: "messages",
    summary: "Send a message (idempotent by client_msg_id: 200 with the first message on a retry)",
    body: rest.sendMessageBody,
    response: message,
    status: 201,
    errors: [400, 403, 404, 409, 413],
  },
  listMessages: { method: "get", path: "/conversations/:id/messages", tag: "messages", summary: "History by keyset on seq, ascending", query: rest.historyQuery, response: rest.messagePage, errors: [400, 404] },
  editMessage: { method: "patch", path: "/messages/:id", tag: "messages", summary: "Edit a message (sender only)", body: rest.editMessageBody, response: message, errors: [400, 403, 404, 409, 413] },
  deleteMessage: { method: "delete", path: "/messages/:id", tag: "messages", summary: "Delete a message (sender or group admin); leaves a tombstone", status: 204, errors: [400, 403, 404] },
  markRead: { method: "post", path: "/conversations/:id/read", tag: "read state", summary: "Mark read up to a seq (never moves backwards)", body: rest.readBody, response: rest.readResponse, errors: [400, 404] },
  markDelivered: {
    method: "post",
    path: "/conversations/:id/delivered",
    tag: "read state",
    summary: "Acknowledge receipt up to a seq (never moves backwards)",
    body: rest.deliveredBody,
    response: rest.deliveredResponse,
    errors: [400, 404],
  },
  getUnread: { method: "get", path: "/unread", tag: "read state", summary: "Unread counts per conversation and total (muted excluded from total)", response: rest.unreadSummary, errors: [] },
  searchMessages: { method: "get", path: "/search/messages", tag: "messages", summary: "Full-text search over the caller's conversations", query: rest.searchQuery, response: rest.searchPage, errors: [400, 404] },
  createRelationship: { method: "post", path: "/relationships", tag: "relationships", summary: "Link two users (service or admin tokens)", body: rest.relationshipBody, response: rest.relationship, status: 201, errors: [400, 403] },
  deleteRelationship: { method: "delete", path: "/relationships", tag: "relationships", summary: "Unlink two users (service or admin tokens)", body: rest.relationshipBody, status: 204, errors: [400, 403, 404] },
  getPresence: { method: "get", path: "/presence", tag: "presence", summary: "Presence of users the caller may see, or online contacts", query: rest.presenceQuery, response: rest.presenceList, errors: [400] },
  getStats: { method: "get", path: "/stats", tag: "presence", summary: "Cluster connection statistics (admin or service)", response: rest.stats, errors: [403] },
  confirmEmail: { method: "post", path: "/auth/confirm-email", tag: "accounts", summary: "Confirm an e-mail address with the token of the mailed link", body: rest.confirmEmailBody, response: rest.confirmEmailResponse, auth: false, errors: [400, 404] },
  blockUser: { method: "post", path: "/users/:id/block", tag: "safety", summary: "Block a user (closes your direct conversation both ways)", status: 204, errors: [400, 404] },
  unblockUser: { method: "delete", path: "/users/:id/block", tag: "safety", summary: "Unblock a user", status: 204, errors: [400, 404] },
  listBlocks: { method: "get", path: "/blocks", tag: "safety", summary: "The users the caller blocked", query: rest.blockListQuery, response: rest.blockList, errors: [400] },
  createReport: { method: "post", path: "/reports", tag: "safety", summary: "Report a message or a user", body: rest.reportBody, response: rest.report, status: 201, errors: [400, 404] },
  listReports: { method: "get", path: "/reports", tag: "safety", summary: "Reports, newest first, with filters (moderators)", query: rest.reportListQuery, response: rest.reportList, errors: [400, 403] },
  getReport: { method: "get", path: "/reports/:id", tag: "safety", summary: "One report (moderators)", response: rest.report, errors: [400, 403, 404] },
  resolveReport: { method: "post", path: "/reports/:id/resolve", tag: "safety", summary: "Resolve a report, taking one moderator action", body: rest.resolveReportBody, response: rest.report, errors: [400, 403, 404, 409] },
  provisionUser: { method: "post", path: "/admin/users", tag: "admin", summary: "Provision a user of any role (admin or service)", body: rest.provisionUserBody, response: me, status: 201, errors: [400, 403, 409] },
  changeUserRole: { method: "patch", path: "/admin/users/:id", tag: "admin", summary: "Change a user's role (admin or service)", body: rest.changeRoleBody, response: me, errors: [400, 403, 404] },
  suspendUser: { method: "post", path: "/admin/users/:id/suspend", tag: "admin", summary: "Suspend: tokens refused and sockets closed on every node", body: rest.suspendBody, status: 204, errors: [400, 403, 404] },
  reinstateUser: { method: "post", path: "/admin/users/:id/reinstate", tag: "admin", summary: "Reinstate a suspended user", status: 204, errors: [400, 403, 404] },
  listAudit: { method: "get", path: "/admin/audit", tag: "admin", summary: "The audit log of moderator, admin and service actions (admins)", query: rest.auditQuery, response: rest.auditList, errors: [400, 403] },
  exportMe: { method: "get", path: "/users/me/export", tag: "admin", summary: "The caller's data as a JSON download (GDPR art. 15/20)", response: jsonDocument, errors: [] },
  eraseMe: { method: "delete", path: "/users/me", tag: "admin", summary: "Erase the caller's account (GDPR art. 17)", status: 204, errors: [] },
  exportUser: { method: "get", path: "/admin/users/:id/export", tag: "admin", summary: "A user's data as a JSON download (admins)", response: jsonDocument, errors: [400, 403, 404] },
  eraseUser: { method: "delete", path: "/admin/users/:id", tag: "admin", summary: "Erase a user's account (admins)", status: 204, errors: [400, 403, 404] },
  getOpenApi: { method: "get", path: "/openapi.json", tag: "documents", summary: "This OpenAPI 3.1 document", response: jsonDocument, auth: false, errors: [] },
  getAsyncApi: { method: "get", path: "/asyncapi.json", tag: "documents", summary: "The AsyncAPI 3 document of the WebSocket protocol", response: jsonDocument, auth: false, errors: [] },
} as const satisfies Record<string, RestRoute>;

export type RestOperation = keyof typeof restRoutes;
