import { randomBytes } from "node:crypto";
import type { ConnectionState } from "@parley/sdk";
import { RestClient } from "@parley/sdk";
import { waitFor } from "@parley/testing";
import { createClient, type ClientRecord } from "./client-record";

export interface FleetOptions {
  /** SDK clients, one user each. */
  readonly clients: number;
  /** Members of each group conversation (every client is also in one direct conversation). */
  readonly groupSize: number;
  /** Messages per second, all clients together. */
  readonly rate: number;
  /** Users who never connect and have an e-mail address: each gets a direct conversation with a client. */
  readonly offlineRecipients?: number;
}

export interface FleetUser {
  readonly id: string;
  readonly token: string;
  readonly email: string | undefined;
}

export interface FleetConversation {
  readonly id: string;
  readonly type: "direct" | "group";
  /** Every member's user id. */
  readonly members: readonly string[];
}

export interface Endpoints {
  readonly apiUrl: string;
  readonly wsUrls: readonly string[];
}

/** A crowd of SDK clients in direct and group conversations, sending at a steady rate and recording everything. */
export class Fleet {
  readonly records: ClientRecord[] = [];
  readonly conversations: FleetConversation[] = [];
  readonly offline: FleetUser[] = [];
  /** Conversations with an offline recipient, for the e-mail verdict. */
  readonly mailConversations: FleetConversation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private closed = false;

  private constructor(
    private readonly endpoints: Endpoints,
    private readonly options: FleetOptions,
  ) {}

  static async start(endpoints: Endpoints, options: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet(endpoints, options);
    await fleet.setUp();
    return fleet;
  }

  /** Sends at the fleet's rate until stop(): one random client, one of its conversations, a unique content. */
  startSending(): void {
    const started = Date.now();
    const base = this.sent;
    this.timer = setInterval(() => {
      const due = base + Math.floor(((Date.now() - started) / 1000) * this.options.rate);
      while (this.sent < due) this.sendOne();
    }, 50);
  }

  stopSending(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Each client sends `count` messages to each of its offline recipients' conversations (the e-mail run). */
  sendToOffline(count: number): void {
    for (const conversation of this.mailConversations) {
      const sender = this.records.find((record) => conversation.members.includes(record.userId));
      for (let i = 0; i < count; i++) sender?.send(conversation.id);
    }
  }

  /** Every client: outbox empty and every conversation of it caught up with `lastSeqs` (the history's last seq). */
  async settle(lastSeqs: () => Promise<ReadonlyMap<string, number>>, timeoutMs: number): Promise<void> {
    let last = new Map<string, number>();
    try {
      await waitFor(
        async () => {
          if (this.records.some((record) => record.client.outbox().length > 0)) return false;
          last = new Map(await lastSeqs());
          return this.behind(last).length === 0;
        },
        { timeout: timeoutMs, interval: 250, message: "every send acked and every client caught up" },
      );
    } catch (error) {
      const stuck = this.records.flatMap((record) => record.client.outbox().map((entry) => `${entry.state} after ${entry.attempts} attempt(s)${entry.error ? ` (${entry.error.code})` : ""}`));
      const behind = this.behind(new Map(await lastSeqs()));
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; ${stuck.length} send(s) unacked [${stuck.slice(0, 5).join(", ")}]; ` +
          `${behind.length} conversation view(s) behind [${behind.slice(0, 5).join(", ")}]; states ${JSON.stringify(this.states())}`,
        { cause: error },
      );
    }
  }

  private behind(last: ReadonlyMap<string, number>): string[] {
    return this.records.flatMap((record) =>
      record.conversations
        .filter((id) => (record.client.lastSeq(id) ?? 0) < (last.get(id) ?? 0))
        .map((id) => `${record.userId.slice(-6)} has ${id.slice(-6)} up to ${record.client.lastSeq(id) ?? 0} of ${last.get(id) ?? 0}`),
    );
  }

  /** When every client is connected again (state `open`). */
  allOpen(): boolean {
    return this.records.every((record) => record.client.state === "open");
  }

  /** Clients connected to the node named `nodeId` (NODE_ID, e.g. `edge-1`), as far as they know. */
  on(nodeId: string): number {
    return this.records.filter((record) => record.client.state === "open" && record.client.node === nodeId).length;
  }

  states(): Partial<Record<ConnectionState, number>> {
    const counts: Partial<Record<ConnectionState, number>> = {};
    for (const record of this.records) counts[record.client.state] = (counts[record.client.state] ?? 0) + 1;
    return counts;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopSending();
    for (const record of this.records) record.client.close();
  }

  private sendOne(): void {
    const record = this.records[Math.floor(Math.random() * this.records.length)];
    // Conversations with an offline recipient get only the e-mail run's messages, so its mails can be counted.
    const loaded = record?.conversations.filter((id) => !this.mailConversations.some((conversation) => conversation.id === id)) ?? [];
    const conversation = loaded[Math.floor(Math.random() * loaded.length)];
    if (record === undefined || conversation === undefined) return;
    this.sent++;
    record.send(conversation);
    // Now and then a member reads up to where it is, so unread counters have something to agree with.
    if (this.sent % 5 === 0) record.readUpToDate();
  }

  private async setUp(): Promise<void> {
    const { clients, groupSize } = this.options;
    const users = await inBatches(clients, () => this.register(false));
    const offline = await inBatches(this.options.offlineRecipients ?? 0, () => this.register(true));
    this.offline.push(...offline);
    // Direct pairs (0-1, 2-3, ...) and groups of groupSize, each created by its first member.
    for (const [type, size] of [["direct", 2], ["group", groupSize]] as const) {
      for (const [owner, ...others] of chunks(users, size)) {
        if (owner !== undefined && others.length > 0) this.conversations.push(await this.create(owner, others, type));
      }
    }
    for (const [i, recipient] of offline.entries()) {
      const sender = users[i % users.length];
      if (sender === undefined) break;
      const conversation = await this.create(sender, [recipient], "direct");
      this.conversations.push(conversation);
      this.mailConversations.push(conversation);
    }
    const urls = this.endpoints.wsUrls;
    for (const [i, user] of users.entries()) {
      const mine = this.conversations.filter((conversation) => conversation.members.includes(user.id)).map((conversation) => conversation.id);
      // Each client starts on a different edge and moves on to the next ones in turn.
      const wsUrls = [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)];
      this.records.push(createClient({ apiUrl: this.endpoints.apiUrl, wsUrls, user, conversations: mine }));
    }
    for (const record of this.records) record.client.connect();
    await waitFor(() => this.allOpen(), { timeout: 60_000, interval: 100, message: "every client connected" });
    // Loaded before the first send: each view starts at seq 0, so every message of the run is expected.
    for (const batch of chunks(this.records, 8)) {
      await Promise.all(batch.flatMap((record) => record.conversations.map((id) => record.client.conversation(id).load())));
    }
  }

  private async register(withEmail: boolean): Promise<FleetUser> {
    const rest = new RestClient({ baseUrl: this.endpoints.apiUrl });
    const username = `chaos_${randomBytes(6).toString("hex")}`;
    const email = withEmail ? `${username}@chaos.test` : undefined;
    const answer = await rest.api.register({
      body: { username, password: "correct horse battery", display_name: username, role: "user", ...(email === undefined ? {} : { email }) },
    });
    return { id: answer.user.id, token: answer.access_token, email };
  }

  private async create(owner: FleetUser, others: readonly FleetUser[], type: "direct" | "group"): Promise<FleetConversation> {
    const rest = new RestClient({ baseUrl: this.endpoints.apiUrl, token: () => owner.token });
    const participant_ids = others.map((user) => user.id);
    const created = await rest.api.createConversation({ body: type === "direct" ? { type, participant_ids } : { type, title: "chaos group", participant_ids } });
    return { id: created.id, type, members: [owner.id, ...participant_ids] };
  }
}

/** Runs `task(i)` for i < count, eight at a time (registering a few hundred users must not flood a loaded machine). */
async function inBatches<T>(count: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += 8) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(8, count - start) }, (_, k) => task(start + k)))));
  }
  return results;
}



function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}
