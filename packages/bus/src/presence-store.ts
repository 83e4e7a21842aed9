import type { Presence, PresenceStatus } from "@parley/protocol";
import type { Result } from "ioredis";
import { busKeys, type BusKeys } from "./keys";
import { isCluster, type RedisClient } from "./redis-client";

// Registers a connection unless the user already has `max` live ones across the cluster.
// KEYS: user conns zset, node conns zset, nodes zset. ARGV: member, node member, now, expiry, max, node, ttl.
// Key TTLs are relative (server time); member scores use the injected clock. On a cluster only the user's key is
// given (a script's keys must share a slot): the caller adds the node's entries once the connection is admitted.
const REGISTER = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if #KEYS > 1 then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[6])
end
return redis.call('ZCARD', KEYS[1])
`;

export interface ConnectionRef {
  readonly userId: string;
  readonly connectionId: string;
  readonly node: string;
}

export interface PresenceStoreOptions {
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  /** A connection not refreshed for this long counts as gone (its node died). */
  readonly ttlMs?: number;
  /**
   * A user whose last connection closed less than this long ago still reads as present, so a quick reconnect
   * does not flap; the edges announce "offline" to watchers after the same grace.
   */
  readonly offlineGraceMs?: number;
  readonly now?: () => number;
}

export interface ClusterStats {
  connections: number;
  users: number;
  users_with_multiple_connections: number;
  nodes: { node: string; connections: number; users: number }[];
}

/**
 * Cluster-wide presence in Redis: each live connection is a member of its user's set and its node's set,
 * scored by an expiry that its edge refreshes, so the entries of a node that dies expire by themselves.
 */
export class PresenceStore {
  private readonly keys: BusKeys;
  private readonly ttlMs: number;
  private readonly now: () => number;
  readonly offlineGraceMs: number;

  constructor(private readonly options: PresenceStoreOptions) {
    this.keys = busKeys(options.keyPrefix);
    this.ttlMs = options.ttlMs ?? 45_000;
    this.now = options.now ?? Date.now;
    this.offlineGraceMs = options.offlineGraceMs ?? 5_000;
    options.redis.defineCommand("parleyRegisterConnection", { lua: REGISTER });
  }

  get refreshIntervalMs(): number {
    return Math.floor(this.ttlMs / 3);
  }

  private userConns(userId: string): string {
    return this.keys.key(`{u:${userId}}`, "conns");
  }
  private nodeConns(node: string): string {
    return this.keys.key("node", node, "conns");
  }
  private nodesKey(): string {
    return this.keys.key("nodes");
  }
  private statusKey(userId: string): string {
    return this.keys.key(`{u:${userId}}`, "status");
  }
  private lastSeenKey(userId: string): string {
    return this.keys.key(`{u:${userId}}`, "last_seen");
  }

  /**
   * Adds a connection; returns how many live connections the user now has across the cluster, or
   * undefined when that would exceed `maxPerUser` (the connection is not added).
   */
  async register(ref: ConnectionRef, maxPerUser: number): Promise<number | undefined> {
    const now = this.now();
    const expiry = now + this.ttlMs;
    const redis = this.options.redis;
    const member = `${ref.node}|${ref.connectionId}`;
    const nodeMember = `${ref.userId}|${ref.connectionId}`;
    const args = [member, nodeMember, now, expiry, maxPerUser, ref.node, this.ttlMs] as const;
    if (!isCluster(redis)) {
      const count = await redis.parleyRegisterConnection(3, this.userConns(ref.userId), this.nodeConns(ref.node), this.nodesKey(), ...args);
      return count < 0 ? undefined : count;
    }
    const count = await redis.parleyRegisterConnection(1, this.userConns(ref.userId), ...args);
    if (count < 0) return undefined;
    await Promise.all([redis.zadd(this.nodeConns(ref.node), expiry, nodeMember), redis.zadd(this.nodesKey(), expiry, ref.node)]);
    return count;
  }

  /** Keeps this node's connections alive; call every {@link refreshIntervalMs}. */
  async refresh(node: string, refs: readonly ConnectionRef[]): Promise<void> {
    const expiry = this.now() + this.ttlMs;
    const redis = this.options.redis;
    if (isCluster(redis)) {
      // Each user's key lives on its own slot: sent at once, ioredis groups them per master.
      await Promise.all(refs.flatMap((ref) => [redis.zadd(this.userConns(ref.userId), "XX", expiry, `${ref.node}|${ref.connectionId}`), redis.pexpire(this.userConns(ref.userId), this.ttlMs)]));
      const nodeConns = this.nodeConns(node);
      const members = refs.flatMap((ref) => [expiry, `${ref.userId}|${ref.connectionId}`]);
      await Promise.all([redis.zadd(this.nodesKey(), expiry, node), ...(members.length > 0 ? [redis.zadd(nodeConns, ...members)] : [])]);
      await redis.multi().zremrangebyscore(nodeConns, "-inf", this.now()).pexpire(nodeConns, this.ttlMs).exec();
      return;
    }
    const pipeline = redis.pipeline();
    pipeline.zadd(this.nodesKey(), expiry, node);
    for (const ref of refs) {
      pipeline.zadd(this.userConns(ref.userId), "XX", expiry, `${ref.node}|${ref.connectionId}`);
      pipeline.pexpire(this.userConns(ref.userId), this.ttlMs);
      pipeline.zadd(this.nodeConns(node), expiry, `${ref.userId}|${ref.connectionId}`);
    }
    pipeline.zremrangebyscore(this.nodeConns(node), "-inf", this.now());
    pipeline.pexpire(this.nodeConns(node), this.ttlMs);
    await pipeline.exec();
  }

  /** Removes a connection; returns how many live connections the user still has. */
  async unregister(ref: ConnectionRef): Promise<number> {
    const now = this.now();
    // The user's key and the node's key live on different slots of a cluster: two commands, never one MULTI.
    const [results] = await Promise.all([
      this.options.redis
        .multi()
        .zrem(this.userConns(ref.userId), `${ref.node}|${ref.connectionId}`)
        .zremrangebyscore(this.userConns(ref.userId), "-inf", now)
        .zcard(this.userConns(ref.userId))
        .exec(),
      this.options.redis.zrem(this.nodeConns(ref.node), `${ref.userId}|${ref.connectionId}`),
    ]);
    const remaining = results?.[2]?.[1];
    if (remaining === 0) await this.options.redis.set(this.lastSeenKey(ref.userId), String(now), "PX", 90 * 86_400_000);
    return typeof remaining === "number" ? remaining : 0;
  }

  /** The user's chosen status while online (online, away, busy). */
  async setStatus(userId: string, status: Exclude<PresenceStatus, "offline">): Promise<void> {
    await this.options.redis.set(this.statusKey(userId), status, "PX", 7 * 86_400_000);
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.options.redis.zcount(this.userConns(userId), this.now(), "+inf")) > 0;
  }

  async connectionCount(userId: string): Promise<number> {
    return this.options.redis.zcount(this.userConns(userId), this.now(), "+inf");
  }

  /** Status and last_seen of each user; offline when no live connection remains anywhere. */
  async get(userIds: readonly string[]): Promise<Presence[]> {
    if (userIds.length === 0) return [];
    const now = this.now();
    const results = await this.readPresence(userIds, now);
    return userIds.map((userId, i) => {
      const count = Number(results[i * 3]?.[1] ?? 0);
      const status = results[i * 3 + 1]?.[1];
      const lastSeenText = results[i * 3 + 2]?.[1];
      const lastSeen = typeof lastSeenText === "string" ? Number(lastSeenText) : undefined;
      const inGrace = lastSeen !== undefined && now - lastSeen < this.offlineGraceMs;
      const present = count > 0 || inGrace;
      return {
        user_id: userId,
        status: present ? (status === "away" || status === "busy" ? status : "online") : "offline",
        last_seen: count > 0 ? new Date(now).toISOString() : lastSeen === undefined ? null : new Date(lastSeen).toISOString(),
      };
    });
  }

  /** Per user: [error, live connections], [error, status], [error, last seen], in the order of `userIds`. */
  private async readPresence(userIds: readonly string[], now: number): Promise<[Error | null, unknown][]> {
    const redis = this.options.redis;
    if (isCluster(redis)) {
      const settled = await Promise.all(
        userIds.flatMap((id) => [redis.zcount(this.userConns(id), now, "+inf"), redis.get(this.statusKey(id)), redis.get(this.lastSeenKey(id))]),
      );
      return settled.map((value): [Error | null, unknown] => [null, value]);
    }
    const pipeline = redis.pipeline();
    for (const id of userIds) {
      pipeline.zcount(this.userConns(id), now, "+inf");
      pipeline.get(this.statusKey(id));
      pipeline.get(this.lastSeenKey(id));
    }
    return (await pipeline.exec()) ?? [];
  }

  /** Connections, unique users and users with several connections, per node and for the cluster. */
  async stats(): Promise<ClusterStats> {
    const now = this.now();
    const redis = this.options.redis;
    await redis.zremrangebyscore(this.nodesKey(), "-inf", now);
    const nodes = await redis.zrange(this.nodesKey(), 0, -1);
    const perUser = new Map<string, number>();
    const out: ClusterStats["nodes"] = [];
    for (const node of nodes.sort()) {
      const members = await redis.zrangebyscore(this.nodeConns(node), now, "+inf");
      const users = new Set<string>();
      for (const member of members) {
        const userId = member.slice(0, member.lastIndexOf("|"));
        users.add(userId);
        perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
      }
      out.push({ node, connections: members.length, users: users.size });
    }
    return {
      connections: out.reduce((sum, n) => sum + n.connections, 0),
      users: perUser.size,
      users_with_multiple_connections: [...perUser.values()].filter((c) => c > 1).length,
      nodes: out,
    };
  }

  /** Forgets a node that shut down cleanly (its connections were unregistered one by one). */
  async removeNode(node: string): Promise<void> {
    // Two slots on a cluster: two commands.
    await Promise.all([this.options.redis.zrem(this.nodesKey(), node), this.options.redis.del(this.nodeConns(node))]);
  }
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    /** KEYS (3, or 1 on a cluster) then ARGV as described at REGISTER. */
    parleyRegisterConnection(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<number, Context>;
  }
}
