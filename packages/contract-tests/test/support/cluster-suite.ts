import { OpenSockets, type WsClient } from "@parley/testing/ws-client";
import { afterAll, beforeAll } from "vitest";
import { startCluster, type Cluster, type ClusterOptions } from "./cluster";
import { Rest, type User } from "./rest";

/** What a contract file on a cluster with edges shares. */
export interface ClusterSuite {
  /** The running cluster (inside tests and hooks only). */
  readonly cluster: Cluster;
  /** A client of the cluster's API. */
  readonly rest: Rest;
  /** Sockets closed after the file's tests. */
  readonly sockets: OpenSockets;
  /** A socket authenticated at the handshake on edge `n` (the first unless given), closed after the file. */
  readonly connect: (user: User, n?: number) => Promise<WsClient>;
}

/**
 * Starts the file's cluster before its tests, and closes its sockets and stops it after them. `options` may be a
 * function, called when the cluster starts, to name what an earlier hook started.
 */
export function useCluster(options: ClusterOptions | (() => ClusterOptions) = {}): ClusterSuite {
  let started: Cluster | undefined;
  const sockets = new OpenSockets();
  beforeAll(async () => {
    started = await startCluster(typeof options === "function" ? options() : options);
  });
  afterAll(async () => {
    await sockets.closeAll();
    await started?.close();
  });
  const running = (): Cluster => {
    if (!started) throw new Error("the cluster is not started yet (use it inside tests)");
    return started;
  };
  return {
    get cluster() {
      return running();
    },
    rest: new Rest(() => running().api.url),
    sockets,
    connect: (user, n = 0) => sockets.connect(running().wsUrl(n), user.token),
  };
}
