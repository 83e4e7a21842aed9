import { comparePos, readUserStream, type RedisClient } from "@parley/bus";
import type { Logger } from "@parley/observability";
import type { Connection } from "../connection";
import { deliverableOf } from "./event-gate";

const PAGE = 500;

/**
 * `resume {since}`: replays the user's stream after `since`, in order, with live events held meanwhile and written
 * afterwards without doubles (deduplicated by `pos`). Acked first (unless `quiet`: a catch-up the client did not ask
 * for); `resume_too_old` when the stream was trimmed past it.
 */
export async function resumeFromStream(
  redis: RedisClient,
  keyPrefix: string,
  connection: Connection,
  since: string,
  id: string | undefined,
  options: { readonly logger: Logger; readonly quiet?: boolean },
): Promise<void> {
  await connection.events.hold(async () => {
    let cursor = since;
    let first = true;
    for (;;) {
      const page = await readUserStream(redis, keyPrefix, connection.userId, cursor, PAGE);
      if (!page.ok) {
        // Also when trimming overtook a long replay: the client refetches over REST either way.
        connection.error(id, "resume_too_old");
        return;
      }
      if (first && options.quiet !== true) {
        connection.ack(id, { since });
      }
      first = false;
      if (page.skipped.length > 0) {
        // Never a silent stop: an entry this node cannot parse (a newer event type mid-deploy) is left out, logged.
        options.logger.warn({ connection: connection.id, skipped: page.skipped.length, first: page.skipped[0] }, "left out stream entries that do not parse");
      }
      for (const entry of page.events) {
        if (connection.congested() && !(await connection.writable())) return;
        if (!connection.events.write(deliverableOf(entry))) return;
      }
      // From the last entry read, parsed or not: a page of unparseable entries does not end the replay.
      if (!page.more || page.last === undefined) return;
      cursor = page.last;
    }
    // Held live events at or before `since` were seen by the client already (on its previous socket).
  }, ({ pos }) => comparePos(pos, since) <= 0);
}
