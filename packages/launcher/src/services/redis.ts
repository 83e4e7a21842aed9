import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { Redis } from "ioredis";
import type { Output } from "../output";
import { freePort } from "../ports";
import { ManagedProcess, describeExit } from "../processes";
import { never, nothingToClose, ServiceError, type ResolvedService } from "./service";

export interface RedisOptions {
  /** REDIS_URL from the environment: used as is. */
  readonly url: string | undefined;
  /** The local service tried next. */
  readonly localUrl: string;
  /** Preferred port of a spawned redis-server. */
  readonly spawnPort: number;
  readonly env: NodeJS.ProcessEnv;
  readonly output: Output;
}

const INSTALL_HINT =
  "no Redis answers and redis-server is not on PATH: install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) or set REDIS_URL";

/** REDIS_URL when set; else the local Redis when it answers PING; else a redis-server spawned for this run. */
export async function resolveRedis(options: RedisOptions): Promise<ResolvedService> {
  if (options.url !== undefined) {
    const problem = await pingProblem(options.url);
    if (problem) throw new ServiceError(`REDIS_URL does not answer PING: ${problem}`);
    return { url: options.url, source: "REDIS_URL", close: nothingToClose };
  }
  if ((await pingProblem(options.localUrl)) === undefined) {
    return { url: options.localUrl, source: "local service", close: nothingToClose };
  }
  return spawnRedis(options);
}

async function spawnRedis(options: RedisOptions): Promise<ResolvedService> {
  const binary = await findOnPath("redis-server", options.env.PATH ?? "");
  if (!binary) throw new ServiceError(INSTALL_HINT);
  const port = await freePort(options.spawnPort);
  const url = `redis://127.0.0.1:${port}`;
  // A throwaway cache for this run: no snapshots, no append-only file, reachable from this machine only.
  const server = new ManagedProcess({
    name: "redis",
    command: binary,
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
    cwd: process.cwd(),
    env: options.env,
    output: options.output,
    // Its start-up banner and routine notices are noise here; problems still show (and end up in errors below).
    print: (line) => /error|fatal|can't|cannot|failed/i.test(line),
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!server.running) {
      const status = await server.exited;
      throw new ServiceError(`redis-server ${describeExit(status)}: ${server.recentOutput.slice(-5).join(" / ")}`);
    }
    const problem = await pingProblem(url);
    if (problem === undefined) break;
    if (Date.now() > deadline) {
      await server.stop(2_000);
      throw new ServiceError(`redis-server on port ${port} did not answer PING within 10 s: ${problem}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    source: "spawned redis-server",
    close: async () => {
      await server.stop(5_000);
    },
    died: server.exited.then((status) => (server.stopRequested ? never<string>() : `redis-server ${describeExit(status)}`)),
  };
}

/** undefined when the server at `url` answers PING, else why not. */
export async function pingProblem(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_500,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on("error", () => undefined); // reported through the rejected promise below
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    redis.disconnect();
  }
}

export async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
