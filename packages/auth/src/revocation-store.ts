import { Cluster, type Redis } from "ioredis";
import { parseJsonWith } from "@parley/protocol";
import { z } from "zod";

/** What the verifier needs: is this token id revoked? */
export interface RevocationChecker {
  isRevoked(jti: string): Promise<boolean>;
  /** Is every token of this subject refused (a suspended or erased account)? */
  isSubjectRevoked?(sub: string): Promise<boolean>;
}

export interface RevocationStoreOptions {
  /** A normal connection for SET/PTTL/PUBLISH, owned by the caller (no ioredis keyPrefix: keys are prefixed here). */
  readonly redis: Redis | Cluster;
  /** Told about `error` events of the subscriber connection this store creates (ioredis reconnects by itself). */
  readonly onConnectionError?: (error: unknown) => void;
  /** A dedicated subscriber connection; created with `redis.duplicate()` (and quit on close) when omitted. */
  readonly subscriber?: Redis | Cluster;
  /** Prefixes the keys and the channel, e.g. REDIS_KEY_PREFIX. */
  readonly keyPrefix: string;
  /** Entries kept in the local cache; 10,000 unless given. */
  readonly cacheSize?: number;
  /** How long a "not revoked" answer is trusted without a broadcast; 2 s unless given. */
  readonly negativeTtlMs?: number;
  /** Milliseconds since the epoch; Date.now unless given. */
  readonly now?: () => number;
}

const revocationMessage = z.union([
  z.object({ jti: z.string().min(1), exp: z.number() }),
  z.object({ sub: z.string().min(1), revoked: z.boolean() }),
]);

interface CacheEntry {
  readonly revoked: boolean;
  /** Epoch ms after which the entry says nothing. */
  readonly until: number;
}

/**
 * The logout blacklist shared by every node: a Redis key per revoked `jti` that expires with the
 * token, plus a pub/sub broadcast so each node's local cache learns of a revocation at once.
 * A token without `jti` cannot be revoked.
 */
export class RevocationStore implements RevocationChecker {
  readonly #redis: Redis | Cluster;
  readonly #subscriber: Redis | Cluster;
  readonly #ownsSubscriber: boolean;
  readonly #keyPrefix: string;
  readonly #channel: string;
  readonly #cacheSize: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #listeners = new Set<(jti: string) => void>();
  readonly #subjectCache = new Map<string, CacheEntry>();
  readonly #subjectListeners = new Set<(sub: string) => void>();
  /** Bumped by every broadcast, so a lookup that raced one does not cache a stale "not revoked". */
  #broadcasts = 0;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: RevocationStoreOptions) {
    this.#redis = options.redis;
    this.#ownsSubscriber = options.subscriber === undefined;
    const redis = options.redis;
    // On a cluster, broadcasts use plain (not sharded) pub/sub: every node hears every revocation.
    this.#subscriber = options.subscriber ?? (redis instanceof Cluster ? redis.duplicate(undefined, { lazyConnect: true }) : redis.duplicate({ lazyConnect: true }));
    if (this.#ownsSubscriber) {
      // Without a listener ioredis prints connection errors to the console.
      const onError = options.onConnectionError ?? (() => undefined);
      this.#subscriber.on("error", onError);
    }
    this.#keyPrefix = options.keyPrefix;
    this.#channel = `${options.keyPrefix}revocations`;
    this.#cacheSize = Math.max(1, options.cacheSize ?? 10_000);
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#now = options.now ?? Date.now;
  }

  /** The pub/sub channel revocations are broadcast on. */
  get channel(): string {
    return this.#channel;
  }

  /** Subscribes to revocation broadcasts. Safe to call twice. */
  start(): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new Error("RevocationStore is closed"));
    this.#started ??= this.#subscribe();
    return this.#started;
  }

  async #subscribe(): Promise<void> {
    this.#subscriber.on("message", this.#onMessage);
    // Broadcasts sent while the subscription was down are lost: stop trusting cached "not revoked" answers.
    this.#subscriber.on("ready", this.#forgetNegatives);
    if (this.#ownsSubscriber && this.#subscriber.status === "wait") await this.#subscriber.connect();
    await this.#subscriber.subscribe(this.#channel);
  }

  /** Revokes a token id until `expiresAtSec` (the token's exp); nothing is stored for an already expired token. */
  async revoke(jti: string, expiresAtSec: number): Promise<void> {
    if (expiresAtSec * 1000 <= this.#now()) return;
    await this.#redis.set(this.#key(jti), "1", "EXAT", expiresAtSec);
    this.#remember(jti, { revoked: true, until: expiresAtSec * 1000 });
    await this.#redis.publish(this.#channel, JSON.stringify({ jti, exp: expiresAtSec }));
  }

  /**
   * Refuses every token of `sub` on every node until {@link restoreSubject} (suspension, erasure): a key without
   * expiry, plus the broadcast, on which each edge closes the subject's sockets.
   */
  async revokeSubject(sub: string): Promise<void> {
    await this.#redis.set(this.#subjectKey(sub), "1");
    this.#subjectCache.set(sub, { revoked: true, until: Number.POSITIVE_INFINITY });
    await this.#redis.publish(this.#channel, JSON.stringify({ sub, revoked: true }));
  }

  async restoreSubject(sub: string): Promise<void> {
    await this.#redis.del(this.#subjectKey(sub));
    this.#subjectCache.delete(sub);
    await this.#redis.publish(this.#channel, JSON.stringify({ sub, revoked: false }));
  }

  async isSubjectRevoked(sub: string): Promise<boolean> {
    const cached = this.#subjectCache.get(sub);
    if (cached !== undefined && cached.until > this.#now()) return cached.revoked;
    const broadcastsBefore = this.#broadcasts;
    const revoked = (await this.#redis.exists(this.#subjectKey(sub))) === 1;
    if (revoked || this.#broadcasts === broadcastsBefore) {
      if (this.#subjectCache.size >= this.#cacheSize) this.#subjectCache.clear();
      this.#subjectCache.set(sub, { revoked, until: revoked ? Number.POSITIVE_INFINITY : this.#now() + this.#negativeTtlMs });
    }
    return revoked;
  }

  /** Calls `listener` with each subject whose tokens were revoked (any node); returns an unsubscribe. */
  onSubjectRevoked(listener: (sub: string) => void): () => void {
    this.#subjectListeners.add(listener);
    return () => this.#subjectListeners.delete(listener);
  }

  async isRevoked(jti: string): Promise<boolean> {
    const cached = this.#cache.get(jti);
    if (cached !== undefined && cached.until > this.#now()) {
      this.#remember(jti, cached);
      return cached.revoked;
    }
    const broadcastsBefore = this.#broadcasts;
    const ttlMs = await this.#redis.pttl(this.#key(jti));
    if (ttlMs === -2) {
      const raced = this.#cache.get(jti);
      if (raced?.revoked === true) return true;
      if (this.#broadcasts === broadcastsBefore) this.#remember(jti, { revoked: false, until: this.#now() + this.#negativeTtlMs });
      return false;
    }
    // -1 (no expiry) should not happen, but a revocation without an end is kept for good.
    this.#remember(jti, { revoked: true, until: ttlMs === -1 ? Number.POSITIVE_INFINITY : this.#now() + ttlMs });
    return true;
  }

  /** Calls `listener` with each revoked jti broadcast by any node (this one included); returns an unsubscribe. */
  onRevoked(listener: (jti: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Unsubscribes (and quits the subscriber connection if this store created it). Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#listeners.clear();
    this.#subjectListeners.clear();
    this.#cache.clear();
    this.#subjectCache.clear();
    const started = this.#started;
    if (started !== undefined) await started.catch(() => undefined);
    this.#subscriber.off("message", this.#onMessage);
    this.#subscriber.off("ready", this.#forgetNegatives);
    if (this.#ownsSubscriber) {
      if (this.#subscriber.status === "wait") this.#subscriber.disconnect();
      else await this.#subscriber.quit().catch(() => this.#subscriber.disconnect());
    } else if (started !== undefined) {
      await this.#subscriber.unsubscribe(this.#channel).catch(() => undefined);
    }
  }

  #key(jti: string): string {
    return `${this.#keyPrefix}revoked:${jti}`;
  }

  #subjectKey(sub: string): string {
    return `${this.#keyPrefix}revoked-sub:${sub}`;
  }

  /** Least-recently-used eviction: a Map iterates in insertion order, so re-inserting marks an entry as recent. */
  #remember(jti: string, entry: CacheEntry): void {
    this.#cache.delete(jti);
    this.#cache.set(jti, entry);
    if (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
  }

  readonly #onMessage = (channel: string, message: string): void => {
    if (channel !== this.#channel) return;
    const signal = parseJsonWith(revocationMessage, message);
    if (signal === undefined) return;
    this.#broadcasts += 1;
    if ("sub" in signal) {
      const { sub, revoked } = signal;
      if (revoked) this.#subjectCache.set(sub, { revoked: true, until: Number.POSITIVE_INFINITY });
      else this.#subjectCache.delete(sub);
      if (revoked) for (const listener of [...this.#subjectListeners]) listener(sub);
      return;
    }
    const { jti, exp } = signal;
    this.#remember(jti, { revoked: true, until: exp * 1000 });
    for (const listener of [...this.#listeners]) listener(jti);
  };

  readonly #forgetNegatives = (): void => {
    this.#broadcasts += 1;
    for (const [jti, entry] of this.#cache) if (!entry.revoked) this.#cache.delete(jti);
    // A missed "restored" broadcast must not keep refusing: subjects are asked again.
    this.#subjectCache.clear();
  };
}
