import { execFile, spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import net from "node:net";
import { waitFor } from "./wait-for";

const run = promisify(execFile);

export interface RedisClusterNode {
  readonly port: number;
  readonly pid: number;
  /** SIGKILLs the node (a crash); resolves once it exited. */
  kill(): Promise<void>;
}

export interface TestRedisCluster {
  /** Every node as a seed, comma-separated (REDIS_URL with REDIS_CLUSTER=true). */
  readonly url: string;
  /** Where the nodes keep their files ("" when TEST_REDIS_CLUSTER_URL named a cluster). */
  readonly directory: string;
  /** The nodes this harness started (empty when TEST_REDIS_CLUSTER_URL named a cluster). */
  readonly nodes: readonly RedisClusterNode[];
  /** The node serving `key`'s slot as master right now. */
  masterOf(key: string): Promise<RedisClusterNode>;
  /** Stops the nodes and removes their directory. Safe to call twice. */
  close(): Promise<void>;
}

export interface RedisClusterOptions {
  readonly masters?: number;
  readonly replicasPerMaster?: number;
  /** cluster-node-timeout: how long a master may be silent before its replica takes over; 1 s unless given. */
  readonly nodeTimeoutMs?: number;
}

let shared: Promise<TestRedisCluster> | undefined;

/**
 * The Redis Cluster tests run against: TEST_REDIS_CLUSTER_URL when set, else one started for this process
 * (3 masters, 3 replicas, `redis-server` from PATH) and stopped when the process exits.
 */
export function resolveRedisCluster(env: NodeJS.ProcessEnv = process.env): Promise<TestRedisCluster> {
  shared ??= (async () => {
    const url = env.TEST_REDIS_CLUSTER_URL;
    if (url !== undefined && url !== "") return externalCluster(url);
    const cluster = await startRedisCluster();
    process.once("exit", () => {
      for (const node of cluster.nodes) void node.kill();
      if (cluster.directory !== "") rmSync(cluster.directory, { recursive: true, force: true });
    });
    return cluster;
  })();
  return shared;
}

function externalCluster(url: string): TestRedisCluster {
  return {
    url,
    directory: "",
    nodes: [],
    masterOf: () => Promise.reject(new Error("the cluster of TEST_REDIS_CLUSTER_URL is not this harness's to kill")),
    close: () => Promise.resolve(),
  };
}

/** Starts a local Redis Cluster of `redis-server` processes on free ports, in a temporary directory. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const count = masters * (1 + (options.replicasPerMaster ?? 1));
  const dir = await mkdtemp(path.join(tmpdir(), "parley-redis-cluster-"));
  const children = new Map<number, ChildProcess>();
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      await Promise.all([...children.keys()].map((port) => killNode(children.get(port))));
      await rm(dir, { recursive: true, force: true });
    })();
    return closed;
  };
  try {
    const ports: number[] = [];
    while (ports.length < count) {
      const port = await clusterPort();
      if (!ports.includes(port)) ports.push(port);
    }
    for (const port of ports) children.set(port, startNode(dir, port, options.nodeTimeoutMs ?? 1_000));
    await Promise.all(ports.map((port) => waitFor(() => pings(port), { timeout: 15_000 })));
    const addresses = ports.map((port) => `127.0.0.1:${port}`);
    await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", String(options.replicasPerMaster ?? 1), "--cluster-yes"]);
    await waitFor(() => clusterReady(ports), { timeout: 30_000 });
    const nodes = ports.map((port): RedisClusterNode => ({ port, pid: children.get(port)?.pid ?? 0, kill: () => killNode(children.get(port)) }));
    const url = ports.map((port) => `redis://127.0.0.1:${port}`).join(",");
    return { url, directory: dir, nodes, masterOf: (key) => masterOf(nodes, key), close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A free port whose cluster bus port (port + 10000) is free as well. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await bindable(port)) && (await bindable(port + 10_000))) return port;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function startNode(dir: string, port: number, nodeTimeoutMs: number): ChildProcess {
  const child = spawn(
    "redis-server",
    [
      "--port", String(port),
      "--bind", "127.0.0.1",
      "--dir", dir,
      "--cluster-enabled", "yes",
      "--cluster-config-file", `nodes-${port}.conf`,
      "--cluster-node-timeout", String(nodeTimeoutMs),
      // A replica takes over however long ago it last heard from its master (an idle test cluster's link is quiet).
      "--cluster-replica-validity-factor", "0",
      "--repl-ping-replica-period", "1",
      "--save", "",
      "--appendonly", "no",
      "--maxmemory-policy", "noeviction",
    ],
    { stdio: "ignore" },
  );
  child.on("error", () => undefined);
  return child;
}

async function killNode(child: ChildProcess | undefined): Promise<void> {
  if (child?.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}

async function pings(port: number): Promise<boolean> {
  const { stdout } = await run("redis-cli", ["-p", String(port), "ping"]).catch(() => ({ stdout: "" }));
  return stdout.trim() === "PONG";
}

/** Every node sees a healthy cluster with every slot served, every replica linked to its master. */
async function clusterReady(ports: readonly number[]): Promise<boolean> {
  const states = await Promise.all(
    ports.map(async (port) => {
      const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "info"]).catch(() => ({ stdout: "" }));
      if (!stdout.includes("cluster_state:ok") || !stdout.includes("cluster_slots_ok:16384")) return false;
      // Replicas in sync with their masters: a master killed from now on has a replica ready to take over.
      const replication = (await run("redis-cli", ["-p", String(port), "info", "replication"]).catch(() => ({ stdout: "" }))).stdout;
      return replication.includes("role:master") || replication.includes("master_link_status:up");
    }),
  );
  return states.every(Boolean);
}

async function masterOf(nodes: readonly RedisClusterNode[], key: string): Promise<RedisClusterNode> {
  for (const candidate of nodes) {
    const redis = new Redis({ port: candidate.port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      const slot = await redis.cluster("KEYSLOT", key);
      const ranges = await redis.cluster("SLOTS");
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const node = nodes.find((n) => n.port === range?.[2]?.[1]);
      if (node) return node;
    } catch {
      // a node that is down: ask the next
    } finally {
      redis.disconnect();
    }
  }
  throw new Error("no node knows the master of this key's slot");
}
