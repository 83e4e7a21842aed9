import { publishToChannel, type RedisClient } from "./redis-client";
import { z } from "zod";
import { busKeys } from "./keys";

/** The control channel (`controlChannel(BLOCKS_CONTROL)`) on which the API announces each block and unblock. */
export const BLOCKS_CONTROL = "blocks";

/**
 * One user blocked (or unblocked) another. Every edge reads it: the blocker's cached block list changes, and
 * presence watches between the two stop at once. Never sent to clients (it would tell the blocked user).
 */
export const blockSignal = z.object({
  blocker_id: z.string().min(1).max(255),
  blocked_id: z.string().min(1).max(255),
  blocked: z.boolean(),
});
export type BlockSignal = z.infer<typeof blockSignal>;

/**
 * Publishes a block signal after its transaction committed; edges also refresh block lists on their own (a lost signal
 * heals). Edges read it through their ChannelSubscriber, which SSUBSCRIBEs on a Redis Cluster: SPUBLISH there (a plain
 * PUBLISH never reaches a sharded subscriber).
 */
export async function announceBlock(redis: RedisClient, keyPrefix: string, signal: BlockSignal): Promise<void> {
  await publishToChannel(redis, busKeys(keyPrefix).controlChannel(BLOCKS_CONTROL), JSON.stringify(signal));
}
