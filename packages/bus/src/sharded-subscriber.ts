import { Redis, type Cluster } from "ioredis";
import { hashSlot } from "./hash-slot";

type MessageHandler = (channel: string, message: string) => void;
type ResubscribeListener = (confirmed: () => Promise<void>) => void;

/** How often placing channels is retried while a shard has no reachable master (a failover under way). */
const RETRY_MS = 250;

/**
 * Sharded pub/sub on a Redis Cluster: one subscriber connection per master, each channel SSUBSCRIBEd on the master of
 * its slot. When a master's connection drops, its channels are placed again on whoever owns their slots by then
 * (the promoted replica after a failover, the same node after a blip), read from CLUSTER SLOTS, retried until every
 * channel has a live owner; listeners then hear that events may have been missed.
 * (ioredis' own `shardedSubscribers` keeps reconnecting to the dead master in ioredis 5.9: tests/cluster/failover.)
 */
export class ShardedSubscriber {
  /** node ("host:port") → its subscriber connection. */
  private readonly nodes = new Map<string, Redis>();
  /** channel → the node it is subscribed on, or undefined while it waits for a live owner. */
  private readonly placed = new Map<string, string | undefined>();
  private readonly listeners = new Set<ResubscribeListener>();
  /** slot → owning master node, from the last CLUSTER SLOTS. */
  private owners: (string | undefined)[] = [];
  private placing: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** An outage under way: settled once every channel is placed again. */
  private episode: { readonly settle: (placed: boolean) => void } | undefined;
  /** The last placement failed: the next waits RETRY_MS (a connection to a dead master closes at once). */
  private failing = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly onMessage: MessageHandler,
  ) {}

  async ssubscribe(channel: string): Promise<void> {
    const node = await this.ownerOf(channel);
    this.placed.set(channel, node);
    try {
      await this.connection(node).ssubscribe(channel);
    } catch (error) {
      this.placed.delete(channel);
      throw error;
    }
  }

  async sunsubscribe(channel: string): Promise<void> {
    const node = this.placed.get(channel);
    this.placed.delete(channel);
    const connection = node === undefined ? undefined : this.nodes.get(node);
    if (connection?.status === "ready") await connection.sunsubscribe(channel);
  }

  /** See ChannelSubscriber.onResubscribed. */
  onResubscribed(listener: ResubscribeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async ownerOf(channel: string): Promise<string> {
    let owner = this.owners[hashSlot(channel)];
    if (owner === undefined) {
      await this.readTopology();
      owner = this.owners[hashSlot(channel)];
    }
    if (owner === undefined) throw new Error("no master serves this channel's slot");
    return owner;
  }

  private async readTopology(): Promise<void> {
    const ranges = await this.cluster.cluster("SLOTS");
    const owners: (string | undefined)[] = [];
    for (const [from, to, master] of ranges) {
      if (master === undefined) continue;
      for (let slot = from; slot <= to; slot++) owners[slot] = `${master[0]}:${master[1]}`;
    }
    this.owners = owners;
  }

  private connection(node: string): Redis {
    let connection = this.nodes.get(node);
    if (connection && connection.status !== "end") return connection;
    const host = node.slice(0, node.lastIndexOf(":"));
    const port = node.slice(node.lastIndexOf(":") + 1);
    const { username, password, tls, connectionName } = this.cluster.options.redisOptions ?? {};
    connection = new Redis({
      host,
      port: Number(port),
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(tls === undefined ? {} : { tls }),
      ...(connectionName === undefined ? {} : { connectionName: `${connectionName}:sharded` }),
      // Channels are placed again by this class (possibly on another node), never re-sent blindly to this one.
      autoResubscribe: false,
      // The ready check (INFO) is refused once the first SSUBSCRIBE, queued before the connection is up, put it in
      // subscriber mode.
      enableReadyCheck: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 1,
    });
    connection.on("smessage", this.onMessage);
    connection.on("error", () => undefined);
    connection.once("close", () => this.lost(node));
    this.nodes.set(node, connection);
    return connection;
  }

  /** A node's connection dropped: its channels wait for a live owner. */
  private lost(node: string): void {
    this.nodes.get(node)?.removeAllListeners("smessage");
    this.nodes.delete(node);
    if (this.closed) return;
    for (const [channel, at] of this.placed) if (at === node) this.placed.set(channel, undefined);
    if (this.episode === undefined) {
      // Listeners hear once per outage; `confirmed` resolves when every channel has a live owner again.
      let settle: (placed: boolean) => void = () => undefined;
      const done = new Promise<boolean>((resolve) => (settle = resolve));
      this.episode = { settle };
      for (const listener of this.listeners) {
        listener(async () => {
          if (!(await done)) throw new Error("closed before the sharded channels were placed again");
        });
      }
    }
    this.schedulePlacement(this.failing ? RETRY_MS : 0);
  }

  private schedulePlacement(delayMs: number): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.placing ??= this.placeLost().finally(() => (this.placing = undefined));
    }, delayMs);
    this.retry.unref();
  }

  /** SSUBSCRIBEs every channel that lost its node on its slot's current master; retried until all are placed. */
  private async placeLost(): Promise<void> {
    try {
      await this.readTopology();
      const waiting = [...this.placed].filter(([, at]) => at === undefined).map(([channel]) => channel);
      await Promise.all(
        waiting.map(async (channel) => {
          const node = this.owners[hashSlot(channel)];
          if (node === undefined) throw new Error("slot without a master");
          await this.connection(node).ssubscribe(channel);
          if (this.placed.has(channel)) this.placed.set(channel, node);
        }),
      );
      this.failing = false;
      if ([...this.placed.values()].includes(undefined)) {
        this.schedulePlacement(0);
        return;
      }
      this.episode?.settle(true);
      this.episode = undefined;
    } catch {
      // The failover is not over (the dead master still owns the slot, or the cluster is down): again shortly.
      this.failing = true;
      this.schedulePlacement(RETRY_MS);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.episode?.settle(false);
    this.episode = undefined;
    if (this.retry) clearTimeout(this.retry);
    for (const connection of this.nodes.values()) connection.disconnect();
    this.nodes.clear();
    this.placed.clear();
  }
}
