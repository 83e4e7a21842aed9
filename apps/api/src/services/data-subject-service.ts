import type { RevocationStore } from "@parley/auth";
import type { Clock } from "@parley/config";
import type { Database } from "@parley/db";
import { ParleyError, toWireMessage, unreadCountEvents } from "@parley/protocol";
import { createHash } from "node:crypto";
import type { OutboxRelay } from "../events/outbox-relay";
import type { DataSubjectRepository } from "../repositories/data-subject-repository";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { ParticipantRepository } from "../repositories/participant-repository";
import type { UserRepository, UserRow } from "../repositories/user-repository";
import type { Actor } from "./actor";
import type { AccountService } from "./account-service";
import type { ContactGuard } from "./contact-guard";
import type { ConversationViews } from "./conversation-view";
import { ADMIN_ROLE } from "./relationship-service";
import { toMe } from "./user-view";

export interface DataSubjectServiceDeps {
  readonly database: Database;
  readonly users: UserRepository;
  readonly accounts: AccountService;
  readonly subjects: DataSubjectRepository;
  readonly participants: ParticipantRepository;
  readonly views: ConversationViews;
  readonly guard: ContactGuard;
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly revocations: RevocationStore;
  readonly clock: Clock;
  /** Rows read or written per statement; bounds the memory of an export and the length of erasure transactions. */
  readonly pageSize?: number;
}

const DEFAULT_PAGE_SIZE = 500;
export const ERASED_DISPLAY_NAME = "Deleted user";

/**
 * The data subject's rights (GDPR art. 15 and 20: access and portability; art. 17: erasure). An export is a
 * stream of JSON text read page by page, so its memory does not grow with the number of messages.
 */
export class DataSubjectService {
  constructor(private readonly deps: DataSubjectServiceDeps) {}

  private get pageSize(): number {
    return this.deps.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  /** Whose data an actor may export or erase: their own, or (admins) anyone's. */
  async subjectOf(actor: Actor, userId: string | undefined): Promise<UserRow> {
    if (userId !== undefined && actor.role !== ADMIN_ROLE) throw new ParleyError("forbidden", "Only admins export or erase other accounts.");
    const row = await this.deps.users.findById(userId ?? actor.id);
    if (!row) throw new ParleyError("not_found", "No such user (service tokens have no profile).");
    return row;
  }

  /** The export as JSON text pieces: {exported_at, profile, conversations: [...], messages: [...]}, each piece one page. */
  async *exportChunks(user: UserRow, options: { pageSize?: number } = {}): AsyncGenerator<string> {
    const { database, subjects } = this.deps;
    const pageSize = options.pageSize ?? this.pageSize;
    const db = database.db;
    yield `{"format":"parley-export-v1","exported_at":${JSON.stringify(this.deps.clock.now().toISOString())},"profile":${JSON.stringify(toMe(user))},"conversations":[`;
    let first = true;
    let after: string | undefined;
    for (;;) {
      const rows = await subjects.memberships(db, user.id, after, pageSize);
      if (rows.length === 0) break;
      const items = rows.map((row) => ({
        id: row.id,
        type: row.type,
        title: row.title,
        created_at: row.createdAt.toISOString(),
        role: row.role,
        joined_at: row.joinedAt.toISOString(),
        left_at: row.leftAt?.toISOString() ?? null,
        muted: row.muted,
        archived: row.archived,
        last_read_seq: row.lastReadSeq,
      }));
      yield `${first ? "" : ","}${items.map((item) => JSON.stringify(item)).join(",")}`;
      first = false;
      after = rows.at(-1)?.id;
      if (rows.length < pageSize) break;
    }
    yield `],"messages":[`;
    first = true;
    for (const storage of ["hot", "archived"] as const) {
      let cursor: string | undefined;
      for (;;) {
        const rows = await subjects.sentMessages(db, user.id, storage, cursor, pageSize);
        if (rows.length === 0) break;
        yield `${first ? "" : ","}${rows.map((row) => JSON.stringify(toWireMessage(row))).join(",")}`;
        first = false;
        cursor = rows.at(-1)?.id;
        if (rows.length < pageSize) break;
      }
    }
    yield "]}";
  }

  /**
   * Erasure: the profile is anonymised (the row stays so others' histories keep a sender), sent messages become
   * tombstones, e-mail log, confirmations, blocks and relationships are deleted, the user leaves groups, their
   * direct conversations close, and every token is refused and every socket closed on every node at once.
   */
  async erase(user: UserRow): Promise<void> {
    const { database, users, subjects, participants, views, guard, outbox, revocations, clock } = this.deps;
    const now = clock.now();
    // Tokens first: nothing the user does from here on can race the erasure.
    await revocations.revokeSubject(user.id);
    await database.db.transaction(async (tx) => {
      const locked = await users.lock(tx, user.id);
      if (!locked) throw new ParleyError("not_found", "No such user.");
      const anonymous = `erased-${createHash("sha256").update(user.id).digest("hex").slice(0, 16)}`;
      await users.update(user.id, { username: anonymous, displayName: ERASED_DISPLAY_NAME, email: null, emailConfirmedAt: null, passwordHash: null, erasedAt: locked.erasedAt ?? now, emailNotifications: false }, tx);
      await subjects.forget(tx, user.id);
      for (const group of await subjects.activeGroups(tx, user.id)) {
        const before = await participants.activeUserIds(tx, group.conversationId);
        await participants.markLeft(tx, group.conversationId, user.id, now);
        if (group.role === "owner") await participants.promoteNextOwner(tx, group.conversationId);
        await outbox.add(tx, await views.updatedEvents(tx, group.conversationId, before));
      }
      await outbox.add(tx, await guard.userChanged(tx, user.id));
    });
    this.deps.accounts.forget(user.id);
    this.deps.relay.kick();
    // Batches in their own transactions: a user with 100k messages never holds one long transaction. Whoever had
    // not read an erased message has one unread fewer, live on their devices.
    for (const storage of ["hot", "archived"] as const) {
      for (;;) {
        const batch = await database.db.transaction(async (tx) => {
          const done = await subjects.tombstoneSent(tx, user.id, storage, now, this.pageSize);
          await outbox.add(tx, unreadCountEvents(done.unread));
          return done;
        });
        if (batch.unread.length > 0) this.deps.relay.kick();
        if (batch.found < this.pageSize) break;
      }
    }
  }
}
