import net from "node:net";

/** Listens on `port` at `host`, resolving with the bound port; rejects on EADDRINUSE and other errors. */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/** Whether nothing listens on `port` of `host` yet (checked by binding it for a moment). */
export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  const server = net.createServer();
  try {
    await listenOn(server, port, host);
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `preferred` when it is free, else a port the kernel picks; the caller binds it right after. */
export async function freePort(preferred: number, host = "127.0.0.1"): Promise<number> {
  if (preferred !== 0 && (await isPortFree(preferred, host))) return preferred;
  const server = net.createServer();
  try {
    return await listenOn(server, 0, host);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === "EADDRINUSE";
}

/**
 * Ports for every listener of a cluster, free right now: API, `edges` consecutive edge ports, worker, ops ports,
 * SMTP, inbox, web. Spread into startCluster's env to run a cluster beside another (tests, soak and chaos runs).
 */
export interface ClusterPorts {
  readonly API_PORT: string;
  readonly EDGE_COUNT: string;
  readonly EDGE_BASE_PORT: string;
  readonly WORKER_PORT: string;
  /** The API's ops port; edge n's is this + n. */
  readonly OPS_BASE_PORT: string;
  readonly SMTP_CATCHER_PORT: string;
  readonly SMTP_CATCHER_HTTP_PORT: string;
  readonly WEB_PORT: string;
}

export async function freeClusterPorts(edges: number): Promise<ClusterPorts> {
  const edgeBase = await consecutiveFreePorts(edges);
  // The kernel may hand a just-released port out again: every port of one cluster must differ.
  const taken = new Set(Array.from({ length: edges }, (_, n) => edgeBase + n));
  let opsBase = await consecutiveFreePorts(edges + 1);
  while (Array.from({ length: edges + 1 }, (_, n) => opsBase + n).some((port) => taken.has(port))) opsBase = await consecutiveFreePorts(edges + 1);
  for (let n = 0; n <= edges; n++) taken.add(opsBase + n);
  const distinct = async (): Promise<string> => {
    for (;;) {
      const port = await freePort(0);
      if (!taken.has(port)) {
        taken.add(port);
        return String(port);
      }
    }
  };
  return {
    API_PORT: await distinct(),
    EDGE_COUNT: String(edges),
    EDGE_BASE_PORT: String(edgeBase),
    WORKER_PORT: await distinct(),
    OPS_BASE_PORT: String(opsBase),
    SMTP_CATCHER_PORT: await distinct(),
    SMTP_CATCHER_HTTP_PORT: await distinct(),
    WEB_PORT: await distinct(),
  };
}

async function consecutiveFreePorts(count: number): Promise<number> {
  for (;;) {
    const base = await freePort(0);
    let free = true;
    for (let n = 1; n < count && free; n++) free = await isPortFree(base + n);
    if (free) return base;
  }
}
