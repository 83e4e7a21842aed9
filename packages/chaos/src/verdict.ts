import type { SmtpCatcher } from "@parley/launcher";
import type postgres from "postgres";
import type { ClientRecord } from "./client-record";
import type { Fleet } from "./fleet";

export interface MailVerdict {
  /** Mails the worker should have sent: one per claimed range the email_log recorded as sent. */
  readonly expected: number;
  /** Distinct mails (by Message-ID) the SMTP catcher received for those conversations. */
  readonly sent: number;
  /** Deliveries of a mail already received, under the same Message-ID (SMTP accepted, then the worker died before recording it). */
  readonly redelivered: number;
  /** Messages to an offline recipient that no sent mail covers, plus claimed mails that never arrived. */
  readonly lost: number;
  /** Messages covered by two mails, plus distinct mails beyond those claimed. */
  readonly duplicated: number;
}

export interface Verdict {
  readonly clients: number;
  readonly acked: number;
  /** (member, message) pairs released by the SDK, the sender's own included. */
  readonly delivered: number;
  /** (member, message) pairs the history holds that a connected member never received, plus acked sends missing from the history. */
  readonly lost: number;
  /** Messages a client released twice, plus messages the history holds twice. */
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** (client, conversation) pairs whose unread counter disagrees with the history and the member's read position. */
  readonly unreadMismatches: number;
  /** Sends refused for good. */
  readonly failedSends: number;
  readonly resyncs: number;
  /** Reconnects after the fault (each client's first connect not counted). */
  readonly reconnects: number;
  /** From the fault until the last client that lost its connection had it back. */
  readonly secondsUntilBack: number;
  readonly drain?: { readonly peakPerSecond: number; readonly reconnects: number; readonly windowSeconds: number; readonly perSecond: readonly number[] };
  readonly mail?: MailVerdict;
  /** The first few problems, described, for the report and for debugging. */
  readonly examples: readonly string[];
}

export interface HistoryRow {
  readonly conversation_id: string;
  readonly seq: number;
  readonly content: string;
  readonly sender_id: string | null;
}

export async function lastSeqs(sql: postgres.Sql, ids: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql<{ conversation_id: string; last: number }[]>`
    SELECT conversation_id, max(seq)::int AS last FROM messages WHERE conversation_id = ANY(${[...ids]}::uuid[]) GROUP BY conversation_id`;
  return new Map(rows.map((row) => [row.conversation_id, row.last]));
}

export interface VerdictInput {
  readonly fleet: Fleet;
  readonly sql: postgres.Sql;
  readonly faultAt: number;
  /** Drain windows [start, end] (ms since epoch): reconnects in them are counted per second. */
  readonly drains?: readonly (readonly [number, number])[];
  readonly smtp?: SmtpCatcher;
}

/** Compares what every client recorded with the history in PostgreSQL, the unread counters and the mails caught. */
export async function judge(input: VerdictInput): Promise<Verdict> {
  const { fleet, sql } = input;
  const ids = fleet.conversations.map((conversation) => conversation.id);
  const history = await sql<HistoryRow[]>`
    SELECT conversation_id, seq, content, sender_id FROM messages WHERE conversation_id = ANY(${ids}::uuid[]) ORDER BY conversation_id, seq`;
  const byConversation = new Map<string, HistoryRow[]>();
  for (const row of history) {
    const rows = byConversation.get(row.conversation_id);
    if (rows) rows.push(row);
    else byConversation.set(row.conversation_id, [row]);
  }
  const reads = await sql<{ conversation_id: string; user_id: string; last_read_seq: number }[]>`
    SELECT conversation_id, user_id, last_read_seq FROM participants WHERE conversation_id = ANY(${ids}::uuid[])`;
  const readOf = new Map(reads.map((row) => [`${row.conversation_id}/${row.user_id}`, row.last_read_seq]));

  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let delivered = 0;
  const examples: string[] = [];
  const example = (text: string) => {
    if (examples.length < 8) examples.push(text);
  };
  for (const [conversationId, rows] of byConversation) {
    const contents = new Set(rows.map((row) => row.content));
    if (rows.length !== contents.size) example(`history of ${conversationId} holds a message twice`);
    duplicated += rows.length - contents.size;
  }
  const stored = new Set(history.map((row) => `${row.conversation_id}/${row.seq}/${row.content}`));
  for (const record of fleet.records) {
    for (const [conversationId, received] of record.received) {
      const rows = byConversation.get(conversationId) ?? [];
      delivered += received.length;
      const seen = new Map<number, string>();
      received.forEach((message, i) => {
        if (seen.has(message.seq)) {
          duplicated++;
          example(`${record.userId} released ${conversationId} seq ${message.seq} twice (at ${i} of ${received.length})`);
        }
        seen.set(message.seq, message.content);
        const before = received[i - 1];
        if (before !== undefined && message.seq < before.seq) {
          outOfOrder++;
          example(`${record.userId} released ${conversationId} seq ${message.seq} after ${before.seq}`);
        }
      });
      for (const row of rows) {
        if (seen.get(row.seq) === row.content) continue;
        lost++;
        example(`${record.userId} never received ${conversationId} seq ${row.seq} (${seen.has(row.seq) ? "another content" : "missing"})`);
      }
    }
    lost += record.acked.filter((ack) => !stored.has(`${ack.conversationId}/${ack.seq}/${ack.content}`)).length;
  }

  return {
    clients: fleet.records.length,
    acked: fleet.records.reduce((sum, record) => sum + record.acked.length, 0),
    delivered,
    lost,
    duplicated,
    outOfOrder,
    unreadMismatches: await unreadMismatches(fleet.records, byConversation, readOf),
    failedSends: fleet.records.reduce((sum, record) => sum + record.failed.length, 0),
    resyncs: fleet.records.reduce((sum, record) => sum + record.resyncs, 0),
    reconnects: fleet.records.reduce((sum, record) => sum + record.connects.filter((at) => at >= input.faultAt).length, 0),
    secondsUntilBack: secondsUntilBack(fleet.records, input.faultAt),
    ...(input.drains === undefined ? {} : { drain: drainSpread(fleet.records, input.drains) }),
    ...(input.smtp === undefined ? {} : { mail: await mailVerdict(fleet, sql, input.smtp, byConversation, example) }),
    examples,
  };
}

/** Each client's unread counters (REST, the product's path) against the history after its read position. */
async function unreadMismatches(records: readonly ClientRecord[], history: ReadonlyMap<string, HistoryRow[]>, readOf: ReadonlyMap<string, number>): Promise<number> {
  let mismatches = 0;
  for (const record of records) {
    const summary = await record.client.rest.getUnread({});
    const counted = new Map(summary.conversations.map((row) => [row.conversation_id, row.unread_count]));
    for (const id of record.conversations) {
      const lastRead = readOf.get(`${id}/${record.userId}`) ?? 0;
      const expected = (history.get(id) ?? []).filter((row) => row.seq > lastRead && row.sender_id !== record.userId).length;
      if ((counted.get(id) ?? 0) !== expected) mismatches++;
    }
  }
  return mismatches;
}

function secondsUntilBack(records: readonly ClientRecord[], faultAt: number): number {
  let last = faultAt;
  for (const record of records) {
    const after = record.states.filter((change) => change.at >= faultAt);
    if (!after.some((change) => change.state !== "open")) continue;
    const back = after.filter((change) => change.state === "open").at(-1);
    last = Math.max(last, back?.at ?? Number.POSITIVE_INFINITY);
  }
  return Math.round((last - faultAt) / 100) / 10;
}

function drainSpread(records: readonly ClientRecord[], windows: readonly (readonly [number, number])[]): NonNullable<Verdict["drain"]> {
  const perSecond = new Map<number, number>();
  let total = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const record of records) {
    // The first connect of a client is its start, not a reconnect.
    for (const at of record.connects.slice(1)) {
      if (!windows.some(([start, end]) => at >= start && at <= end)) continue;
      total++;
      first = Math.min(first, at);
      last = Math.max(last, at);
      const second = Math.floor(at / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
  }
  const seconds = [...perSecond.keys()];
  const histogram = seconds.length === 0 ? [] : Array.from({ length: Math.max(...seconds) - Math.min(...seconds) + 1 }, (_, i) => perSecond.get(Math.min(...seconds) + i) ?? 0);
  return { peakPerSecond: Math.max(0, ...perSecond.values()), reconnects: total, windowSeconds: total === 0 ? 0 : Math.round((last - first) / 100) / 10, perSecond: histogram };
}

async function mailVerdict(
  fleet: Fleet,
  sql: postgres.Sql,
  smtp: SmtpCatcher,
  history: ReadonlyMap<string, HistoryRow[]>,
  example: (text: string) => void,
): Promise<MailVerdict> {
  const ids = fleet.mailConversations.map((conversation) => conversation.id);
  const claims = await sql<{ conversation_id: string; user_id: string; from_seq: number; to_seq: number }[]>`
    SELECT conversation_id, user_id, from_seq, to_seq FROM email_log WHERE conversation_id = ANY(${ids}::uuid[]) AND status = 'sent'`;
  const caught = smtp.messages();
  let lost = 0;
  let duplicated = 0;
  let sent = 0;
  let redelivered = 0;
  for (const recipient of fleet.offline) {
    const conversation = fleet.mailConversations.find((candidate) => candidate.members.includes(recipient.id));
    if (conversation === undefined || recipient.email === undefined) continue;
    const mine = claims.filter((claim) => claim.user_id === recipient.id && claim.conversation_id === conversation.id);
    const covered = new Map<number, number>();
    for (const claim of mine) for (let seq = claim.from_seq; seq <= claim.to_seq; seq++) covered.set(seq, (covered.get(seq) ?? 0) + 1);
    for (const row of history.get(conversation.id) ?? []) {
      const times = covered.get(row.seq) ?? 0;
      if (times === 0) lost++;
      if (times > 1) duplicated += times - 1;
      if (times !== 1) example(`mail: seq ${row.seq} of ${conversation.id} covered by ${times} sent claim(s)`);
    }
    const deliveries = caught.filter((mail) => mail.to.includes(recipient.email ?? "") && `${mail.text}${mail.html ?? ""}`.includes(conversation.id));
    const arrived = new Set(deliveries.map((mail) => mail.messageId ?? mail.id)).size;
    redelivered += deliveries.length - arrived;
    sent += arrived;
    if (arrived !== mine.length) example(`mail: ${arrived} mail(s) caught for ${conversation.id}, ${mine.length} sent claim(s)`);
    if (arrived < mine.length) lost += mine.length - arrived;
    if (arrived > mine.length) duplicated += arrived - mine.length;
  }
  return { expected: claims.length, sent, redelivered, lost, duplicated };
}
