import { comparePos, readUserStream } from "@parley/bus";
import type { Redis } from "ioredis";
import type { Connection } from "../connection";

const PAGE = 500;

/**
 * `resume {since}`: replays the user's stream after `since`, in order, with live events held meanwhile and written
 * afterwards without doubles (deduplicated by `pos`). Acked first (unless `quiet`: a catch-up the client did not ask
 * for); `resume_too_old` when the stream was trimmed past it.
 */
export async function resumeFromStream(
  redis: Redis,
  keyPrefix: string,
  connection: Connection,
  since: string,
  id: string | undefined,
  options: { quiet?: boolean } = {},
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
      for (const entry of page.events) {
        if (connection.congested() && !(await connection.writable())) return;
        if (!connection.events.write(entry)) return;
        cursor = entry.pos;
      }
      if (!page.more || page.events.length === 0) return;
    }
    // Held live events at or before `since` were seen by the client already (on its previous socket).
  }, ({ pos }) => comparePos(pos, since) <= 0);
}
