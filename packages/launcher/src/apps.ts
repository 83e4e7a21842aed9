import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { APP_NAMES, type AppName } from "./launcher-env";

/** One process of the cluster: `api`, `edge-1`, `edge-2`, `worker`. */
export interface AppInstance {
  readonly name: string;
  readonly app: AppName;
  readonly dir: string;
  readonly port: number;
  /** Which variable moves this port, for the message when it is taken. */
  readonly portVariable: string;
  /** OPS_PORT, where the API and edges serve /metrics (the worker serves it on `port`). */
  readonly opsPort?: number;
}

const packageJson = z.object({ scripts: z.record(z.string(), z.string()).optional() });

/** The apps that can run: apps/<name>/package.json has a `start` script and src/main.ts exists. */
export async function discoverApps(rootDir: string): Promise<Map<AppName, string>> {
  const found = new Map<AppName, string>();
  for (const app of APP_NAMES) {
    const dir = path.join(rootDir, "apps", app);
    if (!existsSync(path.join(dir, "src", "main.ts"))) continue;
    try {
      const parsed = packageJson.safeParse(JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")));
      if (parsed.success && parsed.data.scripts?.start) found.set(app, dir);
    } catch {
      // no package.json or not JSON: not an app yet
    }
  }
  return found;
}

export interface Ports {
  readonly apiPort: number;
  readonly edgeBasePort: number;
  readonly edgeCount: number;
  readonly workerPort: number;
  /** The API's OPS_PORT; edge n's is opsBasePort + n. */
  readonly opsBasePort: number;
}

export function planInstances(found: ReadonlyMap<AppName, string>, ports: Ports): AppInstance[] {
  const instances: AppInstance[] = [];
  const api = found.get("api");
  if (api) instances.push({ name: "api", app: "api", dir: api, port: ports.apiPort, portVariable: "API_PORT", opsPort: ports.opsBasePort });
  const edge = found.get("edge");
  if (edge) {
    for (let n = 1; n <= ports.edgeCount; n++) {
      instances.push({ name: `edge-${n}`, app: "edge", dir: edge, port: ports.edgeBasePort + n - 1, portVariable: "EDGE_BASE_PORT", opsPort: ports.opsBasePort + n });
    }
  }
  const worker = found.get("worker");
  if (worker) instances.push({ name: "worker", app: "worker", dir: worker, port: ports.workerPort, portVariable: "WORKER_PORT" });
  return instances;
}

/** Polls `GET /readyz` of every instance until all answer 200; rejects at the deadline naming those that did not. */
export async function waitUntilReady(
  instances: readonly AppInstance[],
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const pending = new Set(instances);
  while (pending.size > 0) {
    options.signal.throwIfAborted();
    await Promise.all(
      [...pending].map(async (instance) => {
        if (await answersReady(instance.port)) pending.delete(instance);
      }),
    );
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const names = [...pending].map((instance) => instance.name).join(", ");
      throw new Error(`not ready within ${Math.round(options.timeoutMs / 1000)} s: ${names} (GET /readyz did not answer 200)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Whether `GET /readyz` on this local port answers 200 right now. */
export async function answersReady(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}
