import { memoryStorage, ParleyClient, RestClient, type KeyValueStorage, type Message } from "@parley/sdk";
import WebSocket from "ws";

/** One soak user: an account, its SDK client (replaced on churn) and what it saw. */
interface SoakUser {
  readonly index: number;
  readonly id: string;
  readonly token: string;
  /** Kept across its clients: position, last seqs and unsent messages survive a reconnect, as in a browser tab. */
  readonly storage: KeyValueStorage;
  readonly conversations: string[];
  client: ParleyClient;
  /** conversation → seqs released to this user (across all its clients). */
  readonly received: Map<string, Set<number>>;
  /** conversation → the highest seq released to this user. */
  readonly highest: Map<string, number>;
}

export interface DeliveryTally {
  /** Messages handed to an outbox. */
  readonly sent: number;
  /** Outbox entries the server acknowledged (each with its stored message). */
  readonly acked: number;
  /** A seq released twice to the same user. */
  readonly duplicated: number;
  /** A seq released after a higher one of the same conversation, to the same user. */
  readonly outOfOrder: number;
  /** Clients closed and replaced by a new one resuming from the same storage. */
  readonly reconnects: number;
  /** (user, message) releases, duplicates left out: what the edges delivered and Redis keeps per user. */
  readonly delivered: number;
}

export interface PopulationOptions {
  readonly apiUrl: string;
  readonly edgeUrls: readonly string[];
  readonly users: number;
  readonly groups: number;
  readonly groupSize: number;
}

/** Users with SDK clients in direct and group conversations, a steady send load and connection churn. */
export class Population {
  private readonly people: SoakUser[] = [];
  private readonly ackedMessages = new Map<string, Message>();
  private counters = { sent: 0, duplicated: 0, outOfOrder: 0, reconnects: 0, delivered: 0 };
  private readonly rest: RestClient;

  private constructor(private readonly options: PopulationOptions) {
    this.rest = new RestClient({ baseUrl: options.apiUrl });
  }

  static async create(options: PopulationOptions): Promise<Population> {
    const population = new Population(options);
    await population.populate();
    return population;
  }

  get tally(): DeliveryTally {
    return { ...this.counters, acked: this.ackedMessages.size };
  }

  /** Every acknowledged message, by id. */
  get acked(): ReadonlyMap<string, Message> {
    return this.ackedMessages;
  }

  /** Messages waiting in the clients' outboxes right now. */
  get outboxBacklog(): number {
    return this.people.reduce((sum, user) => sum + user.client.outbox().length, 0);
  }

  get conversationIds(): string[] {
    return [...new Set(this.people.flatMap((user) => user.conversations))];
  }

  /** A member's token, for reading a conversation's history. */
  memberToken(conversationId: string): string {
    const member = this.people.find((user) => user.conversations.includes(conversationId));
    if (!member) throw new Error(`nobody is in ${conversationId}`);
    return member.token;
  }

  membersOf(conversationId: string): { id: string; received: ReadonlySet<number> }[] {
    return this.people
      .filter((user) => user.conversations.includes(conversationId))
      .map((user) => ({ id: user.id, received: user.received.get(conversationId) ?? new Set() }));
  }

  /** One message from a random user into one of its conversations, through its outbox. */
  sendOne(random: () => number = Math.random): void {
    const user = this.people[Math.floor(random() * this.people.length)];
    if (!user || user.conversations.length === 0) return;
    const conversationId = user.conversations[Math.floor(random() * user.conversations.length)]!;
    this.counters.sent++;
    user.client.send(conversationId, `soak ${user.index} ${this.counters.sent}`);
  }

  /** Closes a random user's client and starts a new one on the same storage: it resumes and resends its outbox. */
  churnOne(random: () => number = Math.random): void {
    const user = this.people[Math.floor(random() * this.people.length)];
    if (!user) return;
    user.client.close();
    user.client = this.startClient(user);
    this.counters.reconnects++;
  }

  /** Waits until every client is connected. */
  async allOpen(): Promise<void> {
    await Promise.all(this.people.map((user) => user.client.ready()));
  }

  close(): void {
    for (const user of this.people) user.client.close();
  }

  private async populate(): Promise<void> {
    const { users, groups, groupSize } = this.options;
    const run = Math.random().toString(36).slice(2, 7);
    for (let index = 0; index < users; index++) {
      const username = `soak${run}u${index}`;
      const registered = await this.rest.api.register({ body: { username, password: "correct horse battery", display_name: username, role: "user" } });
      this.people.push({
        index,
        id: registered.user.id,
        token: registered.access_token,
        storage: memoryStorage(),
        conversations: [],
        client: undefined as unknown as ParleyClient, // started below, once its conversations exist
        received: new Map(),
        highest: new Map(),
      });
    }
    // Direct conversations between neighbours, and groups of random members.
    for (let index = 0; index + 1 < this.people.length; index += 2) await this.converse("direct", [this.people[index]!, this.people[index + 1]!]);
    for (let group = 0; group < groups; group++) {
      const members = [...this.people].sort(() => Math.random() - 0.5).slice(0, groupSize);
      await this.converse("group", members, `soak group ${group}`);
    }
    for (const user of this.people) user.client = this.startClient(user);
  }

  /** A direct conversation (no title) or a group (with one), created by the first member. */
  private async converse(type: "direct" | "group", members: SoakUser[], title = ""): Promise<void> {
    const [owner, ...others] = members;
    if (!owner) return;
    const client = new RestClient({ baseUrl: this.options.apiUrl, token: () => owner.token });
    const participant_ids = others.map((user) => user.id);
    const created = await client.api.createConversation({ body: type === "direct" ? { type, participant_ids } : { type, title, participant_ids } });
    for (const member of members) member.conversations.push(created.id);
  }

  private startClient(user: SoakUser): ParleyClient {
    // Each user starts on its own edge and moves on to the next one when that fails.
    const edges = this.options.edgeUrls;
    const wsUrl = edges.map((_, n) => edges[(user.index + n) % edges.length]!);
    const client = new ParleyClient({
      apiUrl: this.options.apiUrl,
      wsUrl,
      token: () => user.token,
      WebSocket,
      storage: user.storage,
      storageKey: `soak:${user.id}`,
      deliveryReceipts: false,
    });
    client.on("message", (message) => this.released(user, message));
    client.on("outbox", (entry) => {
      if (entry.state === "sent" && entry.message) this.ackedMessages.set(entry.message.id, entry.message);
    });
    client.connect();
    return client;
  }

  private released(user: SoakUser, message: Message): void {
    let seqs = user.received.get(message.conversation_id);
    if (!seqs) user.received.set(message.conversation_id, (seqs = new Set()));
    if (seqs.has(message.seq)) this.counters.duplicated++;
    else this.counters.delivered++;
    if (!seqs.has(message.seq) && (user.highest.get(message.conversation_id) ?? 0) > message.seq) this.counters.outOfOrder++;
    seqs.add(message.seq);
    user.highest.set(message.conversation_id, Math.max(message.seq, user.highest.get(message.conversation_id) ?? 0));
  }
}
