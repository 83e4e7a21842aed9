import { createTokenIssuer } from "@parley/auth";
import { busKeys, ChannelSubscriber, EventPublisher, latestPos, parseLivePayload } from "@parley/bus";
import { createLogger, createMetrics } from "@parley/observability";
import type { ConversationEvent } from "@parley/protocol";
import { createTestRedis, waitFor, type TestRedis } from "@parley/testing";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { systemClock } from "@parley/config";
import { Connection, DEFAULT_LIMITS } from "../../src/connection";
import { ConnectionRegistry } from "../../src/connection-registry";
import { UserDelivery } from "../../src/delivery/user-delivery";
import { createEdgeMetrics } from "../../src/metrics";
import { OpenSockets, WsClient } from "@parley/testing/ws-client";

export const silentLogger = createLogger({ name: "edge-harness", level: "warn", destination: new Writable({ write: (_chunk, _enc, done) => done() }) });

/** An `unread_count` event whose counter tells the events of a test apart. */
export function counted(n: number): ConversationEvent {
  return { type: "unread_count", conversation_id: "0190a000-0000-7000-8000-000000000001", unread_count: n, total: n };
}

/**
 * The delivery path of one edge, built from its real parts (Redis, the node's subscriber connection, the user
 * channels, a socket's Connection over a real WebSocket), without the API: for races that need a hand on the
 * socket's command queue or on the moment an event reached the node.
 */
export class SocketHarness {
  readonly registry = new ConnectionRegistry();
  readonly publisher: EventPublisher;
  readonly subscriber: ChannelSubscriber;
  readonly delivery: UserDelivery;
  private readonly metrics = createEdgeMetrics(createMetrics({ service: "edge", nodeId: "harness", collectDefault: false }), {
    connectionStats: () => ({ connections: 0, users: 0, usersWithMultipleConnections: 0 }),
    subscribedChannels: () => 0,
    draining: () => false,
  });
  private readonly issuer = createTokenIssuer({ secret: "socket-harness-secret-long-enough-for-hs256-0001", ttlMs: 3_600_000 });
  readonly redis: Redis;
  readonly subscriberRedis: Redis;
  private readonly wss: WebSocketServer;
  private readonly clients = new OpenSockets();
  private eventIds = 0;

  private constructor(readonly testRedis: TestRedis) {
    this.redis = new Redis(testRedis.url);
    this.subscriberRedis = new Redis(testRedis.url, { connectionName: `harness-${randomUUID()}`, lazyConnect: true });
    this.publisher = new EventPublisher({ redis: this.redis, keyPrefix: testRedis.prefix });
    this.subscriber = new ChannelSubscriber(this.subscriberRedis);
    this.delivery = new UserDelivery({ subscriber: this.subscriber, keys: busKeys(testRedis.prefix), logger: silentLogger });
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  }

  static async start(label: string): Promise<SocketHarness> {
    const harness = new SocketHarness(await createTestRedis(label));
    const listening = new Promise((resolve) => harness.wss.once("listening", resolve));
    // Connected before its first SUBSCRIBE, as the edge does: ioredis's ready check cannot run in subscriber mode.
    await harness.subscriberRedis.connect();
    await listening;
    return harness;
  }

  get prefix(): string {
    return this.testRedis.prefix;
  }

  /**
   * A socket of `userId` as an edge sets it up: registered, on the user's channel, `pos` taken after the
   * subscription; its live events stay held (as before a first command) until the test releases them.
   */
  async open(userId: string, onClosing?: (connection: Connection) => void): Promise<{ connection: Connection; client: WsClient }> {
    const accepted = new Promise<WebSocket>((resolve) => this.wss.once("connection", resolve));
    const client = this.clients.track(await WsClient.open(`ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/`));
    const ws = await accepted;
    const issued = await this.issuer.issue({ sub: userId, role: "user" });
    const connection = new Connection({
      ws,
      id: randomUUID(),
      remoteAddress: undefined,
      limits: { ...DEFAULT_LIMITS, slowConsumerBytes: 1024 * 1024 },
      metrics: this.metrics,
      clock: systemClock,
      onClosing: (closing) => {
        this.registry.remove(closing);
        void this.delivery.leave(closing);
        onClosing?.(closing);
      },
      onTaskError: () => undefined,
    });
    connection.identity = { userId, token: issued.token, claims: issued.claims };
    connection.registered = true;
    this.registry.add(connection);
    this.registry.index(connection);
    await this.delivery.join(connection);
    connection.state = "open";
    connection.events.startAt(await latestPos(this.redis, this.prefix, userId));
    return { connection, client };
  }

  /** Publishes events to a user (stream and channel) as the API's relay does; resolves with their positions. */
  async publish(userId: string, events: readonly ConversationEvent[]): Promise<string[]> {
    const batch = events.map((event) => ({ id: `harness-${++this.eventIds}`, recipients: [userId], event }));
    const positions = await this.publisher.publish(batch);
    return batch.map(({ id }) => positions.get(id)?.get(userId) ?? "");
  }

  /** Resolves once the node has handed the event at `pos` to the user's sockets (a handler added after theirs saw it). */
  async reachedNode(userId: string, publish: () => Promise<string[]>): Promise<string[]> {
    const seen = new Set<string>();
    const stop = await this.subscriber.subscribe(busKeys(this.prefix).userChannel(userId), (message) => {
      const pos = parseLivePayload(message)?.header.pos;
      if (pos !== undefined) seen.add(pos);
    });
    try {
      const positions = await publish();
      await waitFor(() => positions.every((pos) => seen.has(pos)));
      return positions;
    } finally {
      await stop();
    }
  }

  /** Cuts the node's subscriber connection (ioredis reconnects it and re-subscribes by itself). */
  async killSubscriber(): Promise<void> {
    const name = this.subscriberRedis.options.connectionName ?? "";
    const list = (await this.redis.call("CLIENT", "LIST")) as string;
    const line = list.split("\n").find((entry) => entry.includes(`name=${name} `));
    const id = /\bid=(\d+)/.exec(line ?? "")?.[1];
    if (id === undefined) throw new Error("subscriber connection not found");
    await this.redis.call("CLIENT", "KILL", "ID", id);
  }

  async close(): Promise<void> {
    this.clients.terminateAll();
    for (const connection of this.registry.connections()) connection.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
    await this.subscriber.close();
    await this.testRedis.cleanup();
    this.redis.disconnect();
  }
}
