import type { Database } from "@parley/db";
import type { Clock } from "@parley/config";
import { message as messageSchema, ParleyError, toWireMessage, uuid, type Page, type Report, type ReportBody, type ReportListQuery, type ResolveReportBody } from "@parley/protocol";
import type { MessageRepository } from "../repositories/message-repository";
import type { ReportRepository, ReportRow } from "../repositories/report-repository";
import type { Actor } from "./actor";
import type { AdminService } from "./admin-service";
import { isService } from "./conversation-access";
import type { MembershipService } from "./membership-service";
import type { MessageService } from "./message-service";
import { newestFirstPage, pageOf } from "./page-cursor";
import type { Policy } from "./policy";
import type { UserDirectoryService } from "./user-directory-service";

export interface ReportServiceDeps {
  readonly database: Database;
  readonly reports: ReportRepository;
  readonly messages: MessageRepository;
  readonly messageService: MessageService;
  readonly membership: MembershipService;
  readonly admin: AdminService;
  readonly directory: UserDirectoryService;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly newId: () => string;
}


function toReport(row: ReportRow): Report {
  const snapshot = messageSchema.safeParse(row.messageSnapshot);
  return {
    id: row.id,
    reporter_id: row.reporterId,
    message_id: row.messageId,
    conversation_id: row.conversationId,
    user_id: row.userId,
    reason: row.reason,
    message_snapshot: snapshot.success ? snapshot.data : null,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    resolved_at: row.resolvedAt?.toISOString() ?? null,
    resolved_by: row.resolvedBy,
    resolution: row.resolution,
  };
}

/** Users report messages or users; moderators list, act (delete, remove, suspend) and resolve, one call each. */
export class ReportService {
  constructor(private readonly deps: ReportServiceDeps) {}

  assertModerator(actor: Actor): void {
    if (!this.deps.policy.isModerator(actor.role)) throw new ParleyError("forbidden", "Only moderators read and resolve reports.");
  }

  /** A report of a message the reporter can see (copied as it is now) and/or of a user. */
  async create(actor: Actor, body: ReportBody): Promise<Report> {
    if (isService(actor)) throw new ParleyError("forbidden", "Service tokens do not file reports.");
    const { database, messages, directory } = this.deps;
    let snapshot = null;
    let conversationId: string | null = null;
    let userId = body.user_id ?? null;
    if (body.message_id !== undefined) {
      const found = await messages.locate(database.db, body.message_id);
      // Only a participant may report a message: others learn nothing about it.
      if (!found || !(await messages.activeParticipant(database.db, found.row.conversationId, actor.id))) {
        throw new ParleyError("not_found", "message_id: no such message", "message_id");
      }
      snapshot = toWireMessage(found.row);
      conversationId = found.row.conversationId;
      userId ??= found.row.senderId;
    }
    if (userId !== null) {
      if (userId === actor.id) throw new ParleyError("invalid_request", "user_id: you cannot report yourself", "user_id");
      await directory.requireUsers([userId], "user_id");
    }
    const row = await this.deps.reports.insert(database.db, {
      id: this.deps.newId(),
      reporterId: actor.id,
      messageId: body.message_id ?? null,
      conversationId,
      userId,
      reason: body.reason,
      messageSnapshot: snapshot,
      createdAt: this.deps.clock.now(),
    });
    return toReport(row);
  }

  async list(actor: Actor, query: ReportListQuery): Promise<Page<Report>> {
    this.assertModerator(actor);
    const rows = await this.deps.reports.list(this.deps.database.db, {
      status: query.status,
      userId: query.user_id,
      conversationId: query.conversation_id,
      reporterId: query.reporter_id,
      ...newestFirstPage(query),
    });
    return pageOf(rows, query.limit, toReport, (row) => ({ id: row.id }));
  }

  async get(actor: Actor, id: string): Promise<Report> {
    this.assertModerator(actor);
    return toReport(await this.existing(id));
  }

  /** Takes the moderator action named (if any) on the reported message or user, then marks the report resolved. */
  async resolve(actor: Actor, id: string, body: ResolveReportBody): Promise<Report> {
    this.assertModerator(actor);
    const report = await this.existing(id);
    switch (body.action) {
      case "none":
        break;
      case "delete_message":
        if (report.messageId === null) throw new ParleyError("invalid_request", "action: the report names no message", "action");
        await this.deps.messageService.remove(actor, report.messageId);
        break;
      case "remove_member":
        if (report.conversationId === null || report.userId === null) throw new ParleyError("invalid_request", "action: the report names no conversation member", "action");
        await this.deps.membership.remove(actor, report.conversationId, report.userId);
        break;
      case "suspend_user":
        if (report.userId === null) throw new ParleyError("invalid_request", "action: the report names no user", "action");
        await this.deps.admin.suspend(actor, report.userId);
        break;
    }
    const resolution = body.resolution ?? (body.action === "none" ? null : body.action);
    const row = await this.deps.reports.resolve(this.deps.database.db, id, actor.id, resolution, this.deps.clock.now());
    if (!row) throw new ParleyError("not_found", "No such report.");
    return toReport(row);
  }

  private async existing(id: string): Promise<ReportRow> {
    const row = uuid.safeParse(id).success ? await this.deps.reports.find(this.deps.database.db, id) : undefined;
    if (!row) throw new ParleyError("not_found", "No such report.");
    return row;
  }
}
