import { recountOfParticipant, schema } from "@parley/db";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { archiveLikeTheWorker, openGroup, unreadOf } from "./support/message-fixtures";

let api: ApiHarness;
let users: RegisteredUser[];

beforeAll(async () => {
  api = await ApiHarness.start({ MESSAGE_RATE_LIMIT: "100000", REQUEST_RATE_LIMIT: "100000", IP_REQUEST_RATE_LIMIT: "100000" });
  users = await Promise.all(Array.from({ length: 6 }, () => api.register("user")));
}, 60_000);
afterAll(async () => {
  await api.close();
});

/** A small deterministic generator (mulberry32): a failure replays with the same seed. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Member {
  readonly conversationId: string;
  readonly userId: string;
  readonly role: string;
  readonly muted: boolean;
}

const p = schema.participants;

async function activeMembers(): Promise<Member[]> {
  const db = api.node.database.db;
  const rows = await db.select({ conversationId: p.conversationId, userId: p.userId, role: p.role, muted: p.muted, leftAt: p.leftAt }).from(p);
  return rows.filter((row) => row.leftAt === null);
}

/** Every participant's counter next to a recount from the messages, live and archived; left ones must hold 0. */
async function countersAndRecounts() {
  return api.node.database.db
    .select({ conversationId: p.conversationId, userId: p.userId, counter: p.unreadCount, recount: recountOfParticipant, left: p.leftAt, muted: p.muted })
    .from(p);
}

describe("participants.unread_count", () => {
  it("equals a recount after a randomised mix of sends, reads, deletes, joins, leaves, mutes, archival and restore", async () => {
    const random = generator(20261130);
    const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
    const owner = users[0];
    if (!owner) throw new Error("no users");
    const conversations = await Promise.all([0, 1, 2].map(() => openGroup(api, owner, users.slice(1, 4))));
    const tokenOf = new Map(users.map((user) => [user.id, user.token]));
    const token = (userId: string) => tokenOf.get(userId) ?? "";

    const operation = async (): Promise<void> => {
      const conversationId = pick(conversations) ?? "";
      const members = (await activeMembers()).filter((member) => member.conversationId === conversationId);
      const member = pick(members);
      if (!member) return;
      const roll = random();
      if (roll < 0.45) {
        await api.request("POST", `/v1/conversations/${conversationId}/messages`, { token: token(member.userId), body: { client_msg_id: randomUUID(), content: `m ${roll}` } });
      } else if (roll < 0.6) {
        const [row] = await api.node.database.sql<{ last_seq: number }[]>`SELECT last_seq FROM conversations WHERE id = ${conversationId}`;
        await api.request("POST", `/v1/conversations/${conversationId}/read`, { token: token(member.userId), body: { up_to_seq: Math.floor(random() * ((row?.last_seq ?? 0) + 2)) } });
      } else if (roll < 0.7) {
        const mine = await api.node.database.sql<{ id: string }[]>`
          SELECT id FROM messages WHERE conversation_id = ${conversationId} AND sender_id = ${member.userId}
          UNION ALL SELECT id FROM archived_messages WHERE conversation_id = ${conversationId} AND sender_id = ${member.userId}`;
        const target = pick(mine);
        if (target) await api.request("DELETE", `/v1/messages/${target.id}`, { token: token(member.userId) });
      } else if (roll < 0.77) {
        const outsider = pick(users.filter((user) => !members.some((m) => m.userId === user.id)));
        if (outsider) await api.request("POST", `/v1/conversations/${conversationId}/participants`, { token: owner.token, body: { user_ids: [outsider.id] } });
      } else if (roll < 0.84) {
        if (member.role !== "owner") await api.request("DELETE", `/v1/conversations/${conversationId}/participants/${member.userId}`, { token: token(member.userId) });
      } else if (roll < 0.89) {
        await api.request("PATCH", `/v1/conversations/${conversationId}/settings`, { token: token(member.userId), body: { muted: !member.muted } });
      } else if (roll < 0.95) {
        await archiveLikeTheWorker(api, conversationId);
      } else {
        await api.request("POST", `/v1/conversations/${conversationId}/restore`, { token: token(member.userId) });
      }
    };

    let rows = await countersAndRecounts();
    let unreadSeen = 0;
    for (let round = 0; round < 40; round++) {
      // Four at a time: counters must also hold when writes to one conversation race.
      await Promise.all([operation(), operation(), operation(), operation()]);
      // Checked after every round: a later send resets its sender's counter, which would hide a drift seen only at the end.
      rows = await countersAndRecounts();
      for (const row of rows) expect({ round, ...row }).toEqual({ round, ...row, counter: row.left === null ? row.recount : 0 });
      unreadSeen += rows.filter((row) => row.counter > 0).length;
    }
    expect(rows.length).toBeGreaterThan(9);
    expect(unreadSeen).toBeGreaterThan(40);

    for (const user of users) {
      const summary = await unreadOf(api, user);
      const mine = rows.filter((row) => row.userId === user.id && row.left === null);
      expect(summary.total).toBe(mine.reduce((sum, row) => sum + (row.muted ? 0 : row.recount), 0));
      expect(new Map(summary.conversations.map((c) => [c.conversation_id, c.unread_count]))).toEqual(new Map(mine.map((row) => [row.conversationId, row.recount])));
    }
  });
});
