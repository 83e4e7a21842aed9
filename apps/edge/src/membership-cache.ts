import { z } from "zod";
import { callerOf } from "./api-caller";
import type { ApiError, ApiGateway } from "./api-client";
import type { Clock } from "@parley/config";
import type { Connection } from "./connection";

/** A participant of an open conversation, of a closed one (read-only: no typing), or not a participant. */
type Standing = "member" | "closed" | "outsider";

interface Entry {
  readonly standing: Standing;
  readonly until: number;
}

const conversationClosed = z.object({ closed: z.boolean() });

const CLOSED_ERROR: ApiError = { code: "conversation_closed", message: "This conversation is closed: its two people may no longer write to each other." };
const NOT_FOUND_ERROR: ApiError = { code: "not_found", message: "No such conversation." };

export type MembershipAnswer = { readonly ok: true } | { readonly ok: false; readonly error: ApiError };

const MAX_ENTRIES = 50_000;

/**
 * Who participates in which conversation, asked of the API (GET /v1/conversations/:id with the user's token) and
 * cached briefly, so typing signals do not cost a request each; membership events invalidate a conversation.
 */
export class MembershipCache {
  private readonly byConversation = new Map<string, Map<string, Entry>>();
  private size = 0;

  constructor(
    private readonly api: ApiGateway,
    private readonly clock: Clock,
    private readonly ttlMs = 10_000,
    private readonly negativeTtlMs = 2_000,
  ) {}

  async check(connection: Connection, conversationId: string, options: { fresh?: boolean } = {}): Promise<MembershipAnswer> {
    const userId = connection.userId;
    const cached = this.byConversation.get(conversationId)?.get(userId);
    if (options.fresh !== true && cached !== undefined && cached.until > this.clock.now().getTime()) {
      return answerOf(cached.standing);
    }
    const answer = await this.api.call("get_conversation", callerOf(connection), { target: conversationId });
    if (answer.ok) {
      // A closed conversation (lost relationship, a block) stays readable but refuses typing.
      const standing = conversationClosed.safeParse(answer.body).data?.closed === true ? "closed" : "member";
      this.remember(conversationId, userId, standing);
      return answerOf(standing);
    }
    if (answer.status === 404 || answer.status === 403) this.remember(conversationId, userId, "outsider");
    return { ok: false, error: answer.error };
  }

  remember(conversationId: string, userId: string, standing: Standing): void {
    if (this.size >= MAX_ENTRIES) this.clear();
    let users = this.byConversation.get(conversationId);
    if (!users) {
      users = new Map();
      this.byConversation.set(conversationId, users);
    }
    if (!users.has(userId)) this.size += 1;
    users.set(userId, { standing, until: this.clock.now().getTime() + (standing === "member" ? this.ttlMs : this.negativeTtlMs) });
  }

  /** Membership of the conversation changed: ask the API again next time. */
  invalidate(conversationId: string): void {
    const users = this.byConversation.get(conversationId);
    if (!users) return;
    this.size -= users.size;
    this.byConversation.delete(conversationId);
  }

  clear(): void {
    this.byConversation.clear();
    this.size = 0;
  }
}

function answerOf(standing: Standing): MembershipAnswer {
  if (standing === "member") return { ok: true };
  return { ok: false, error: standing === "closed" ? CLOSED_ERROR : NOT_FOUND_ERROR };
}
