import type { ConnectionRegistry } from "./connection-registry";

/**
 * A ws ping to every socket each interval; a socket that did not answer (pong or any frame) since the previous
 * ping is terminated, and its cleanup removes it everywhere. Returns the stop function.
 */
export function startHeartbeat(registry: ConnectionRegistry, intervalMs: number): () => void {
  const timer = setInterval(() => {
    for (const connection of registry.connections()) {
      if (connection.isClosing()) continue;
      if (!connection.alive) {
        connection.terminate();
        continue;
      }
      connection.alive = false;
      connection.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
