import type { Database } from "@parley/db";
import type { Clock } from "@parley/config";
import { ParleyError, type Conversation, type ConversationSettingsBody, type CreateConversationBody, type Page } from "@parley/protocol";
import { z } from "zod";
import type { OutboxRelay } from "../events/outbox-relay";
import type { ConversationRepository } from "../repositories/conversation-repository";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { ParticipantRepository, ParticipantRole, ParticipantWithUser } from "../repositories/participant-repository";
import type { RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { Actor } from "./actor";
import { conversationNotFound, isService, unique } from "./conversation-access";
import { toConversation, type ConversationViews } from "./conversation-view";
import { decodeCursor, encodeCursor } from "./page-cursor";
import type { Policy } from "./policy";
import type { UserDirectoryService } from "./user-directory-service";

/** What the services of conversations and their members share (api-node.ts builds it once for both). */
export interface ConversationDeps {
  readonly database: Database;
  readonly conversations: ConversationRepository;
  readonly participants: ParticipantRepository;
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly views: ConversationViews;
  readonly directory: UserDirectoryService;
  readonly policy: Policy;
  readonly clock: Clock;
}

export interface ConversationServiceDeps extends ConversationDeps {
  readonly unread: RecipientUnreadRepository;
  readonly newId: () => string;
}

export interface ConversationListQuery {
  readonly limit: number;
  readonly cursor?: string | undefined;
  readonly archived: boolean;
  readonly closed?: boolean | undefined;
}

interface Member {
  readonly userId: string;
  readonly role: ParticipantRole;
}

interface NewConversation {
  readonly type: "group" | "support";
  readonly title: string | null;
  readonly members: readonly Member[];
}

// A JavaScript Date reaches ±8.64e15 ms; anything further would fail in the query, not in the cursor check.
const activityCursor = z.object({ t: z.number().int().min(-8.64e15).max(8.64e15), id: z.uuid() });

/** "<smaller id>:<larger id>": the unique key that makes "one direct conversation per pair" hold under races. */
export function directKey(a: string, b: string): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

/** Opening conversations, listing them, reading one, and each participant's own settings. */
export class ConversationService {
  constructor(private readonly deps: ConversationServiceDeps) {}

  /** Creates a conversation; `created` is false when an existing direct conversation is returned. */
  async create(actor: Actor, body: CreateConversationBody): Promise<{ conversation: Conversation; created: boolean }> {
    switch (body.type) {
      case "direct":
        return this.createDirect(actor, body.participant_ids);
      case "group":
        return { conversation: await this.insert(actor, await this.groupOf(actor, body.title, body.participant_ids)), created: true };
      case "support":
        return { conversation: await this.insert(actor, await this.supportOf(actor, body.title ?? null, body.participant_ids)), created: true };
    }
  }

  async list(actor: Actor, query: ConversationListQuery): Promise<Page<Conversation>> {
    const { database, conversations, participants, unread } = this.deps;
    const db = database.db;
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor, activityCursor);
    const rows = await conversations.listForUser(db, actor.id, {
      archived: query.archived,
      includeClosed: query.closed ?? !this.deps.policy.hidesClosed,
      limit: query.limit + 1,
      ...(cursor === undefined ? {} : { after: { activityUs: cursor.t, id: cursor.id } }),
    });
    const pageRows = rows.slice(0, query.limit);
    const ids = pageRows.map((row) => row.conversation.id);
    const counts = new Map((await unread.ofUser(db, actor.id, ids)).map((c) => [c.conversationId, c.unread]));
    // Direct conversations carry their two participants so a client can name them; groups are fetched one by one.
    const directIds = pageRows.filter((row) => row.conversation.type === "direct").map((row) => row.conversation.id);
    const members = new Map<string, ParticipantWithUser[]>();
    for (const member of await participants.listActive(db, directIds)) {
      members.set(member.conversationId, [...(members.get(member.conversationId) ?? []), member]);
    }
    const items = pageRows.map((row) =>
      toConversation(
        row.conversation,
        { muted: row.muted, archived: row.archived, unread: counts.get(row.conversation.id) ?? 0 },
        row.lastMessage,
        row.conversation.type === "direct" ? (members.get(row.conversation.id) ?? []) : undefined,
      ),
    );
    const last = pageRows.at(-1);
    const next = rows.length > query.limit && last ? encodeCursor({ t: last.position.activityUs, id: last.position.id }) : null;
    return { items, next_cursor: next };
  }

  /** One conversation with its participants; 404 unless the caller is in it (service tokens read any). */
  async get(actor: Actor, conversationId: string): Promise<Conversation> {
    const db = this.deps.database.db;
    if (!isService(actor) && !(await this.deps.participants.findActive(db, conversationId, actor.id))) throw conversationNotFound();
    const view = await this.deps.views.forViewer(db, conversationId, isService(actor) ? undefined : actor.id);
    if (!view) throw conversationNotFound();
    return view;
  }

  /** The caller's own mute/archive flags; their other devices hear about it through conversation_updated. */
  async updateSettings(actor: Actor, conversationId: string, body: ConversationSettingsBody): Promise<Conversation> {
    const { database, conversations, participants, outbox, views } = this.deps;
    await database.db.transaction(async (tx) => {
      if (!(await conversations.findById(tx, conversationId, { lock: "share" }))) throw conversationNotFound();
      const changes = {
        ...(body.muted === undefined ? {} : { muted: body.muted }),
        ...(body.archived === undefined ? {} : { archived: body.archived }),
      };
      if (!(await participants.updateSettings(tx, conversationId, actor.id, changes))) throw conversationNotFound();
      await outbox.add(tx, await views.updatedEvents(tx, conversationId, [actor.id]));
    });
    this.deps.relay.kick();
    return this.get(actor, conversationId);
  }

  private async createDirect(actor: Actor, ids: readonly string[]): Promise<{ conversation: Conversation; created: boolean }> {
    const { database, conversations, participants, outbox, views, directory, clock, relay } = this.deps;
    const service = isService(actor);
    if (service && ids.length !== 2) throw new ParleyError("invalid_request", "participant_ids: a service token names both people", "participant_ids");
    if (!service && ids.length !== 1) throw new ParleyError("invalid_request", "participant_ids: name the one other person", "participant_ids");
    const [a, b] = service ? [ids[0] ?? "", ids[1] ?? ""] : [actor.id, ids[0] ?? ""];
    if (a === b) throw new ParleyError("invalid_request", "participant_ids: a direct conversation needs two different people", "participant_ids");
    await directory.requireUsers(service ? [a, b] : [b], "participant_ids");
    if (!service) await directory.assertContactable(actor, [b], "participant_ids");
    const now = clock.now();
    const outcome = await database.db.transaction(async (tx) => {
      const { row, created } = await conversations.insertDirect(tx, {
        id: this.deps.newId(),
        type: "direct",
        directKey: directKey(a, b),
        createdBy: actor.id,
        lastActivityAt: now,
        createdAt: now,
      });
      if (created) {
        await participants.insertMany(tx, row.id, [{ userId: a, role: "member" }, { userId: b, role: "member" }], now);
        await outbox.add(tx, await views.updatedEvents(tx, row.id, [a, b]));
      }
      return { id: row.id, created };
    });
    if (outcome.created) relay.kick();
    return { conversation: await this.get(actor, outcome.id), created: outcome.created };
  }

  /** A group: only policy group creators; the creator owns it (a service token's first named member does). */
  private async groupOf(actor: Actor, title: string, ids: readonly string[]): Promise<NewConversation> {
    const { policy, directory } = this.deps;
    if (!policy.mayCreateGroup(actor.role)) throw new ParleyError("forbidden", `${actor.role} users may not create groups`);
    const others = unique(ids).filter((id) => id !== actor.id);
    if (isService(actor) && others.length === 0) throw new ParleyError("invalid_request", "participant_ids: a service token names the members, owner first", "participant_ids");
    await directory.requireUsers(others, "participant_ids");
    // Moderators may add anyone to any group afterwards, so they may also start one with anyone.
    if (!policy.isModerator(actor.role)) await directory.assertContactable(actor, others, "participant_ids");
    const members: Member[] = isService(actor)
      ? others.map((userId, i) => ({ userId, role: i === 0 ? "owner" : "member" }))
      : [{ userId: actor.id, role: "owner" }, ...others.map((userId) => ({ userId, role: "member" as const }))];
    return { type: "group", title, members };
  }

  /**
   * Support: the customer (the caller, or a service token's first id) owns it; the named staff, or every
   * support-staff user when none is named, join as admins. No contact rule applies: reaching staff is the point.
   */
  private async supportOf(actor: Actor, title: string | null, ids: readonly string[]): Promise<NewConversation> {
    const { policy, directory } = this.deps;
    const customer = isService(actor) ? ids[0] : actor.id;
    if (customer === undefined) throw new ParleyError("invalid_request", "participant_ids: a service token names the customer first", "participant_ids");
    const named = unique(isService(actor) ? ids.slice(1) : ids).filter((id) => id !== customer);
    const found = await directory.requireUsers(isService(actor) ? [customer, ...named] : named, "participant_ids");
    const notStaff = named.filter((id) => !policy.isSupportStaff(found.get(id)?.role ?? ""));
    if (notStaff.length > 0) throw new ParleyError("invalid_request", `participant_ids: not support staff: ${notStaff.join(", ")}`, "participant_ids");
    const staff = named.length > 0 ? named : (await directory.supportStaff(customer)).map((row) => row.id);
    return { type: "support", title, members: [{ userId: customer, role: "owner" }, ...staff.map((userId) => ({ userId, role: "admin" as const }))] };
  }

  private async insert(actor: Actor, spec: NewConversation): Promise<Conversation> {
    const { database, conversations, participants, outbox, views, clock, relay } = this.deps;
    const now = clock.now();
    const id = await database.db.transaction(async (tx) => {
      const row = await conversations.insert(tx, { id: this.deps.newId(), type: spec.type, title: spec.title, createdBy: actor.id, lastActivityAt: now, createdAt: now });
      await participants.insertMany(tx, row.id, spec.members, now);
      await outbox.add(tx, await views.updatedEvents(tx, row.id, spec.members.map((m) => m.userId)));
      return row.id;
    });
    relay.kick();
    return this.get(actor, id);
  }
}
