/**
 * Every Redis key and channel name Parley uses lives here. Names put the owning entity in a hash tag
 * (`{u:<id>}`, `{c:<id>}`) so that on Redis Cluster a user's stream and channel share one slot (one script
 * touches both) and sharded pub/sub (SPUBLISH/SSUBSCRIBE) spreads channels across shards.
 */
export interface BusKeys {
  /** The user's event stream; entry ids are the `pos` of PROTOCOL.md. */
  userStream(userId: string): string;
  /** The user's live event channel: one per user, never a broadcast channel every node reads. */
  userChannel(userId: string): string;
  /**
   * Marks an outbox event (a chunk `part` of its recipients) as appended, with every recipient's pos, so a relay retry
   * never doubles it. Single-node Redis only: on a cluster a script's keys must share one slot, so markers are
   * per user and event ({@link userEventDelivered}).
   */
  eventDelivered(eventId: string, part: number): string;
  /** On a cluster: marks an outbox event as appended to one user's stream (in the user's slot), holding its pos. */
  userEventDelivered(userId: string, eventId: string): string;
  /** Ephemeral typing signals of one conversation. */
  typingChannel(conversationId: string): string;
  /** Presence changes of one user, for watchers. */
  presenceChannel(userId: string): string;
  /** Cluster-wide control messages (revocations, membership invalidations). */
  controlChannel(name: string): string;
  /** Plain keys owned by other packages (presence, rate limits): prefixed, no hash tag needed. */
  key(...parts: string[]): string;
}

export function busKeys(prefix: string): BusKeys {
  return {
    userStream: (userId) => `${prefix}{u:${userId}}:stream`,
    userChannel: (userId) => `${prefix}{u:${userId}}:events`,
    eventDelivered: (eventId, part) => `${prefix}{e:${eventId}}:delivered:${part}`,
    userEventDelivered: (userId, eventId) => `${prefix}{u:${userId}}:delivered:${eventId}`,
    typingChannel: (conversationId) => `${prefix}{c:${conversationId}}:typing`,
    presenceChannel: (userId) => `${prefix}{u:${userId}}:presence`,
    controlChannel: (name) => `${prefix}control:${name}`,
    key: (...parts) => `${prefix}${parts.join(":")}`,
  };
}
