/**
 * The Redis a fanout run uses: its own `redis-server` on a free port when the binary is there (its CPU is then the
 * bench's alone, read from /proc), else the shared test Redis with a key prefix per target (CPU from `INFO cpu`,
 * which then includes whatever else uses that Redis).
 */
import { freePort, redisAnswers, resolveServices, startRedisCluster } from "@parley/testing";
import { Redis } from "ioredis";
import { spawn, type ChildProcess } from "node:child_process";
import { parseInfoCpuMicros } from "./resource-usage";

export interface BenchRedis {
  readonly url: string;
  /** The redis-server processes this run started (one, or the nodes of a cluster); empty on a shared Redis. */
  readonly pids: readonly number[];
  infoCpuMicros(): Promise<number>;
  close(): Promise<void>;
}

function withInfo(url: string, pid: number | undefined, stop: () => Promise<void>): BenchRedis {
  const pids = pid === undefined ? [] : [pid];
  const info = new Redis(url, { maxRetriesPerRequest: 2 });
  return {
    url,
    pids,
    async infoCpuMicros() {
      return parseInfoCpuMicros(await info.info("cpu"));
    },
    async close() {
      info.disconnect();
      await stop();
    },
  };
}

/** Starts `redis-server` (no persistence, 127.0.0.1 only); falls back to the shared Redis when that fails or `sharedUrl` is given. */
export async function startBenchRedis(sharedUrl?: string, cluster = false): Promise<BenchRedis> {
  if (cluster) {
    // Its CPU is the sum over its nodes, read from /proc (never INFO: that would be one node's).
    const started = await startRedisCluster();
    return { url: started.url, pids: started.nodes.map((node) => node.pid), infoCpuMicros: () => Promise.resolve(0), close: () => started.close() };
  }
  if (sharedUrl !== undefined) return withInfo(sharedUrl, undefined, () => Promise.resolve());
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "20000"], {
      stdio: "ignore",
    });
    const spawned = child;
    const exited = new Promise<void>((resolve) => spawned.once("exit", () => resolve()));
    spawned.once("error", () => undefined);
    const url = `redis://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!(await redisAnswers(url))) {
      if (Date.now() > deadline || spawned.exitCode !== null || spawned.pid === undefined) throw new Error("redis-server did not start");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stop = async () => {
      spawned.kill("SIGTERM");
      await exited;
    };
    process.once("exit", () => spawned.kill("SIGKILL"));
    return withInfo(url, spawned.pid, stop);
  } catch {
    child?.kill("SIGKILL");
    const { redisUrl } = await resolveServices();
    return withInfo(redisUrl, undefined, () => Promise.resolve());
  }
}
