import type { TokenVerifier } from "@parley/auth";
import type { BusKeys, RedisClient } from "@parley/bus";
import type { Clock, EdgeConfig } from "@parley/config";
import type { Logger } from "@parley/observability";
import type { ApiGateway } from "./api-client";
import type { ConnectionLimits } from "./connection";
import type { ConnectionRegistry } from "./connection-registry";
import type { UserDelivery } from "./delivery/user-delivery";
import type { MembershipCache } from "./membership-cache";
import type { EdgeMetrics } from "./metrics";
import type { BlockLists } from "./presence/block-lists";
import type { PresenceTracker } from "./presence/presence-tracker";
import type { PresenceWatchers } from "./presence/presence-watchers";
import type { TypingHub } from "./presence/typing";

/** Everything a socket's session and its commands use; built once per node in server.ts. */
export interface EdgeContext {
  readonly config: EdgeConfig;
  readonly nodeId: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly redis: RedisClient;
  readonly keys: BusKeys;
  /** The internal channel when INTERNAL_SECRET is set, else REST with each user's token. */
  readonly api: ApiGateway;
  readonly verifier: TokenVerifier;
  readonly registry: ConnectionRegistry;
  readonly delivery: UserDelivery;
  readonly typing: TypingHub;
  readonly presence: PresenceTracker;
  readonly watchers: PresenceWatchers;
  readonly membership: MembershipCache;
  /** Each local user's own blocks (typing filters, presence watches cut by a block). */
  readonly blocks: BlockLists;
  readonly metrics: EdgeMetrics;
  readonly limits: ConnectionLimits;
  /** How long live events wait for a first `resume` after `connected`. */
  readonly initialHoldMs: number;
  /** Cleanups in flight, awaited before the node closes its Redis connections. */
  readonly pendingCleanups: Set<Promise<void>>;
}
