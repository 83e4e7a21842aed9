import type { BlockSignal } from "@parley/bus";
import type { Logger } from "@parley/observability";
import { blockList } from "@parley/protocol";
import { callerOf } from "../api-caller";
import type { ApiGateway } from "../api-client";
import type { Clock } from "@parley/config";
import type { Connection } from "../connection";

export interface BlockListsOptions {
  readonly api: ApiGateway;
  readonly clock: Clock;
  readonly logger: Logger;
  /** A list is read again after this long, in case a block signal was lost; 60 s unless given. */
  readonly refreshMs?: number;
}

interface Entry {
  readonly users: Set<string>;
  readonly loadedAt: number;
}

const EMPTY: ReadonlySet<string> = new Set();
const PAGE = 500;
/** 5,000 blocks per user at most are enforced on typing: a list is read in at most this many pages. */
const MAX_PAGES = 10;
const MAX_ENTRIES = 50_000;

/**
 * Each local user's own blocks (GET /v1/blocks), for typing and presence: a typing signal carries its sender's
 * blocks, and a socket drops the typing of users its own user blocked, so neither of two users sees the other type
 * while either blocked the other, and nobody learns who blocked them. The API's block signals keep the lists current
 * on every edge and stop presence watches between the two; a list is read again after `refreshMs` in case one was lost.
 */
export class BlockLists {
  private readonly lists = new Map<string, Entry>();
  private readonly loading = new Map<string, { done: Promise<void>; signals: BlockSignal[] }>();
  /** Pairs (`a|b`, both orders) blocked within `refreshMs`: a presence watch the API answered before the block is not set up after it. */
  private readonly recent = new Map<string, number>();
  private readonly refreshMs: number;

  constructor(private readonly options: BlockListsOptions) {
    this.refreshMs = options.refreshMs ?? 60_000;
  }

  /** The users this socket's user blocked, read from the API when not known here (or known for too long). */
  async ensure(connection: Connection): Promise<ReadonlySet<string>> {
    const userId = connection.userId;
    const entry = this.lists.get(userId);
    if (entry && this.options.clock.now().getTime() - entry.loadedAt < this.refreshMs) return entry.users;
    let load = this.loading.get(userId);
    if (!load) {
      const started = { done: Promise.resolve(), signals: [] as BlockSignal[] };
      started.done = this.load(connection, started.signals).finally(() => this.loading.delete(userId));
      this.loading.set(userId, started);
      load = started;
    }
    await load.done;
    return this.lists.get(userId)?.users ?? EMPTY;
  }

  /** Whether `viewerId` blocked `otherId` (as far as this edge knows the viewer's list). */
  blocked(viewerId: string, otherId: string): boolean {
    return this.lists.get(viewerId)?.users.has(otherId) === true;
  }

  /** Whether either of the two blocked the other within the last `refreshMs` (and has not unblocked since). */
  recentlyBlocked(a: string, b: string): boolean {
    const at = this.recent.get(`${a}|${b}`);
    return at !== undefined && this.options.clock.now().getTime() - at < this.refreshMs;
  }

  /** A block signal from the API: the blocker's list changes here (and in a read still in flight). */
  apply(signal: BlockSignal): void {
    const { blocker_id: blocker, blocked_id: blocked } = signal;
    this.loading.get(blocker)?.signals.push(signal);
    const users = this.lists.get(blocker)?.users;
    if (signal.blocked) users?.add(blocked);
    else users?.delete(blocked);
    const now = this.options.clock.now().getTime();
    for (const [key, at] of this.recent) if (now - at >= this.refreshMs) this.recent.delete(key);
    for (const key of [`${blocker}|${blocked}`, `${blocked}|${blocker}`]) {
      if (signal.blocked) this.recent.set(key, now);
      else this.recent.delete(key);
    }
  }

  private async load(connection: Connection, signals: readonly BlockSignal[]): Promise<void> {
    const userId = connection.userId;
    const users = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await this.options.api.call("blocks", callerOf(connection), { args: { limit: PAGE, ...(cursor === undefined ? {} : { cursor }) } });
      const parsed = answer.ok ? blockList.safeParse(answer.body) : undefined;
      if (!parsed?.success) {
        // The list known so far (if any) stays; the next typing or subscribe asks again.
        this.options.logger.warn({ status: answer.status }, "could not read a user's blocks");
        return;
      }
      for (const item of parsed.data.items) users.add(item.user_id);
      if (parsed.data.next_cursor === null) break;
      cursor = parsed.data.next_cursor;
    }
    // Signals that arrived while the pages were read win over what the read saw.
    for (const signal of signals) {
      if (signal.blocked) users.add(signal.blocked_id);
      else users.delete(signal.blocked_id);
    }
    if (this.lists.size >= MAX_ENTRIES) this.lists.clear();
    this.lists.set(userId, { users, loadedAt: this.options.clock.now().getTime() });
  }
}
