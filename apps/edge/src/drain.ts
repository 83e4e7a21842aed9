import type { Connection } from "./connection";

/** How long a socket's commands in flight may take to finish before it is closed. */
const COMMAND_GRACE_MS = 2_000;

/**
 * Graceful drain: every client is told to `reconnect` (reason "draining") with `after_ms` spread evenly over
 * `spreadMs`, keeps receiving events until then, and is closed 1012 at that time once its commands in flight are
 * answered, so a rolling deploy causes no reconnect storm. Resolves when every socket was closed.
 */
export async function drainConnections(connections: readonly Connection[], spreadMs: number): Promise<void> {
  const count = connections.length;
  await Promise.all(
    connections.map(async (connection, index) => {
      const afterMs = count <= 1 ? 0 : Math.round((spreadMs * index) / (count - 1));
      if (connection.state !== "open") {
        connection.close("node_restarting");
        return;
      }
      connection.send({ type: "reconnect", reason: "draining", after_ms: afterMs });
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      await connection.idle(COMMAND_GRACE_MS);
      connection.close("node_restarting");
    }),
  );
}
