import type { Cluster, Result } from "ioredis";

// Redis Cluster: every key of a script must live in one hash slot, so a batch is published per recipient (the user's
// stream, channel and markers all carry the `{u:<id>}` tag). One call appends all the batch's events of one user, in
// order: a failed or retried call can never leave a later event in the stream before an earlier one. Each event has
// its own marker per user, so a relay retry appends nothing twice and answers the same positions.
// KEYS: stream, channel, then one marker per event. ARGV: max stream length, marker TTL seconds, then per event its
// JSON, commit time (ms) and recipient-independent header fields. Returns the positions, comma-separated.
const APPEND_AND_SPUBLISH = `
local positions = {}
for i = 3, #KEYS do
  local a = 3 + (i - 3) * 3
  local pos = redis.call('GET', KEYS[i])
  if not pos then
    local json = ARGV[a]
    pos = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', json)
    redis.call('SPUBLISH', KEYS[2], '{"pos":"' .. pos .. '","ts":' .. ARGV[a + 1] .. ARGV[a + 2] .. '}\\n' .. string.sub(json, 1, -2) .. ',"pos":"' .. pos .. '"}')
    redis.call('SET', KEYS[i], pos, 'EX', ARGV[2])
  end
  positions[#positions + 1] = pos
end
return table.concat(positions, ',')
`;

/** One event of a batch as the script takes it: serialised once, shared by every recipient. */
export interface ShardedEvent {
  readonly id: string;
  readonly json: string;
  readonly ts: number;
  readonly headerTail: string;
}

export interface ShardedKeys {
  userStream(userId: string): string;
  userChannel(userId: string): string;
  userEventDelivered(userId: string, eventId: string): string;
}

export function defineShardedPublish(cluster: Cluster): void {
  cluster.defineCommand("parleyPublishToUser", { lua: APPEND_AND_SPUBLISH });
}

/**
 * Publishes a batch on a cluster: one script call per recipient, all sent at once (ioredis routes each to its
 * slot's master). Returns each recipient's pos per event id.
 */
export async function publishSharded(
  cluster: Cluster,
  keys: ShardedKeys,
  events: readonly ShardedEvent[],
  recipients: ReadonlyMap<string, readonly ShardedEvent[]>,
  limits: { readonly maxLength: number; readonly dedupeTtl: number },
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>(events.map((event) => [event.id, new Map<string, string>()]));
  await Promise.all(
    [...recipients].map(async ([userId, own]) => {
      const callKeys = [keys.userStream(userId), keys.userChannel(userId), ...own.map((event) => keys.userEventDelivered(userId, event.id))];
      const args = own.flatMap((event) => [event.json, event.ts, event.headerTail]);
      const joined = await cluster.parleyPublishToUser(callKeys.length, ...callKeys, limits.maxLength, limits.dedupeTtl, ...args);
      const positions = joined.split(",");
      own.forEach((event, i) => {
        const pos = positions[i];
        if (pos !== undefined && pos !== "") out.get(event.id)?.set(userId, pos);
      });
    }),
  );
  return out;
}

declare module "ioredis" {
  interface RedisCommander<Context> {
    parleyPublishToUser(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Result<string, Context>;
  }
}
