import { copyFile, mkdir, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, createTestRedis, waitFor, type TestDatabase, type TestRedis } from "@parley/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type Cluster } from "../src/launcher";
import { memoryOutput } from "../src/output";
import { listenOn } from "../src/ports";
import { baseEnv, clusterPorts, connects, temporaryDataDir, type ClusterPorts } from "./launcher-process";

const fakeApp = fileURLToPath(new URL("fixtures/fake-app.ts", import.meta.url));

let database: TestDatabase;
let redis: TestRedis;
let root: { dir: string; remove(): Promise<void> };
const clusters: Cluster[] = [];

beforeAll(async () => {
  database = await createTestDatabase({
    migrate: async (url) => {
      await migrate(url);
    },
    templateKey: migrationsFingerprint(),
  });
  redis = await createTestRedis("launcher-cluster");
  // A monorepo whose three apps are the fake app.
  root = await temporaryDataDir();
  for (const app of ["api", "edge", "worker"]) {
    await mkdir(path.join(root.dir, "apps", app, "src"), { recursive: true });
    await writeFile(path.join(root.dir, "apps", app, "package.json"), JSON.stringify({ name: `fake-${app}`, scripts: { start: "tsx src/main.ts" } }));
    await copyFile(fakeApp, path.join(root.dir, "apps", app, "src", "main.ts"));
  }
});

afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.stop()));
});

afterAll(async () => {
  await database.drop();
  await redis.cleanup();
  await root.remove();
});

async function start(extra: Record<string, string> = {}) {
  const ports = await clusterPorts(2);
  const output = memoryOutput();
  const env = {
    ...baseEnv(),
    ...ports,
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    PARLEY_DATA_DIR: path.join(root.dir, ".data"),
    ...extra,
  };
  const cluster = await startCluster({ env, rootDir: root.dir, log: output });
  clusters.push(cluster);
  return { cluster, output, ports };
}

async function envOf(port: string): Promise<Record<string, string | undefined>> {
  const response = await fetch(`http://127.0.0.1:${port}/env`);
  return (await response.json()) as Record<string, string | undefined>;
}

const edgePort = (ports: ClusterPorts, n: number) => String(Number(ports.EDGE_BASE_PORT) + n - 1);

describe("the cluster", () => {
  it("starts the API, EDGE_COUNT edges and the worker with their own PORT and NODE_ID and the shared services", async () => {
    const { cluster, output, ports } = await start();
    await cluster.ready;

    const api = await envOf(ports.API_PORT);
    const edge1 = await envOf(edgePort(ports, 1));
    const edge2 = await envOf(edgePort(ports, 2));
    const worker = await envOf(ports.WORKER_PORT);
    expect([api.NODE_ID, edge1.NODE_ID, edge2.NODE_ID, worker.NODE_ID]).toEqual(["api", "edge-1", "edge-2", "worker"]);
    expect([api.PORT, edge1.PORT, edge2.PORT, worker.PORT]).toEqual([ports.API_PORT, edgePort(ports, 1), edgePort(ports, 2), ports.WORKER_PORT]);
    // /metrics of the API and edges is on their own ops port, never the public one; the worker has one port.
    const opsPort = (n: number) => String(Number(ports.OPS_BASE_PORT) + n);
    expect([api.OPS_PORT, edge1.OPS_PORT, edge2.OPS_PORT, worker.OPS_PORT]).toEqual([opsPort(0), opsPort(1), opsPort(2), undefined]);
    expect(cluster.urls.metrics).toEqual([0, 1, 2].map((n) => `http://127.0.0.1:${opsPort(n)}/metrics`).concat(`http://127.0.0.1:${ports.WORKER_PORT}/metrics`));
    for (const app of [api, edge1, edge2, worker]) {
      expect(app).toMatchObject({
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: redis.prefix,
        SMTP_URL: `smtp://127.0.0.1:${ports.SMTP_CATCHER_PORT}`,
        API_URL: `http://127.0.0.1:${ports.API_PORT}`,
        EMAIL_DELAY: "2m",
      });
      expect(app.JWT_SECRET).toMatch(/^[\w-]{48}$/);
    }
    expect(new Set([api, edge1, edge2, worker].map((app) => app.JWT_SECRET)).size).toBe(1);
    // Edges reach the API over the internal channel with a secret generated for this run.
    expect(api.INTERNAL_SECRET).toMatch(/^[\w-]{48}$/);
    expect([edge1.INTERNAL_SECRET, edge2.INTERNAL_SECRET]).toEqual([api.INTERNAL_SECRET, api.INTERNAL_SECRET]);

    expect(cluster.urls.edges).toEqual([`ws://127.0.0.1:${edgePort(ports, 1)}/v1/ws`, `ws://127.0.0.1:${edgePort(ports, 2)}/v1/ws`]);
    expect(cluster.urls.inbox).toBe(`http://127.0.0.1:${ports.SMTP_CATCHER_HTTP_PORT}`);
    expect(output.lines).toContain("parley: ready");
    expect(output.lines).toContain("edge-2 | edge-2 writes to stderr too");
    expect(output.lines.some((line) => line.startsWith("worker | {") && line.includes(`"msg":"listening on ${ports.WORKER_PORT}"`))).toBe(true);
  });

  it("keeps the JWT secret it generated across restarts", async () => {
    const first = await start();
    await first.cluster.ready;
    const before = (await envOf(first.ports.API_PORT)).JWT_SECRET;
    await first.cluster.stop();

    const second = await start();
    await second.cluster.ready;
    expect((await envOf(second.ports.API_PORT)).JWT_SECRET).toBe(before);
  });

  it("stop() sends SIGTERM to every app, waits for them, stops the catcher and resolves 0; twice is fine", async () => {
    const { cluster, output, ports } = await start();
    await cluster.ready;

    await Promise.all([cluster.stop(), cluster.stop()]);
    expect(await cluster.stopped).toBe(0);
    for (const name of ["api", "edge-1", "edge-2", "worker"]) {
      expect(output.lines.filter((line) => line.startsWith(`${name} | `) && line.includes('"msg":"draining"'))).toHaveLength(1);
    }
    expect(await connects(Number(ports.API_PORT))).toBe(false);
    expect(await connects(Number(ports.SMTP_CATCHER_PORT))).toBe(false);
  });

  it("an app that exits on its own is restarted with a doubling delay while the others keep serving", async () => {
    const { cluster, output, ports } = await start({ LAUNCHER_RESTART_DELAY: "200ms" });
    await cluster.ready;
    const edge2 = cluster.app("edge-2");
    const firstPid = edge2.pid;
    expect(output.lines).toContain(`parley | edge-2 started (pid ${String(firstPid)})`);

    const back = edge2.nextStart();
    await fetch(`http://127.0.0.1:${edgePort(ports, 2)}/exit`);
    const secondPid = await back;
    expect(output.lines).toContain("parley | edge-2 exited with code 3 unexpectedly; restarting it in 200 ms (restart 1)");
    expect((await envOf(ports.API_PORT)).NODE_ID).toBe("api");
    await edge2.ready();
    expect((await envOf(edgePort(ports, 2))).NODE_ID).toBe("edge-2");

    // Killed again soon after: the delay doubles. SIGKILL reaches it through the launcher's own handle.
    const third = edge2.nextStart();
    edge2.signal("SIGKILL");
    expect(await third).not.toBe(secondPid);
    expect(output.lines).toContain("parley | edge-2 was killed by SIGKILL unexpectedly; restarting it in 400 ms (restart 2)");
    expect(edge2.restarts).toBe(2);
    await waitFor(() => output.lines.includes("parley | edge-2 is ready again"), { timeout: 30_000 });
    expect(cluster.apps.map((app) => [app.name, app.state])).toEqual([["api", "running"], ["edge-1", "running"], ["edge-2", "running"], ["worker", "running"]]);
    expect(cluster.app("edge-1").restarts).toBe(0);
    expect(() => cluster.app("edge-9")).toThrow("no app named edge-9");

    await cluster.stop();
    expect(await cluster.stopped).toBe(0);
    expect(edge2.state).toBe("stopped");
  });

  it("with LAUNCHER_FAIL_FAST=true an app that exits on its own takes the whole cluster down with exit code 1", async () => {
    const { cluster, output, ports } = await start({ LAUNCHER_FAIL_FAST: "true" });
    await cluster.ready;

    await fetch(`http://127.0.0.1:${edgePort(ports, 2)}/exit`);
    expect(await cluster.stopped).toBe(1);
    expect(output.lines).toContain("parley | edge-2 exited with code 3 unexpectedly; stopping everything");
    expect(output.lines.some((line) => line.startsWith("api | ") && line.includes('"msg":"draining"'))).toBe(true);
    expect(await connects(Number(ports.WORKER_PORT))).toBe(false);
  });

  it("an app that dies before the cluster was first ready stops everything instead of restarting", async () => {
    const { cluster, output } = await start({ FAKE_CRASH_AT_START: "worker" });

    await expect(cluster.ready).rejects.toThrow();
    expect(await cluster.stopped).toBe(1);
    expect(output.lines).toContain("parley | worker exited with code 2 before the cluster was ready; stopping everything");
    expect(cluster.app("worker").restarts).toBe(0);
  });

  it("gives up when an app is not ready by PARLEY_READY_TIMEOUT, naming it", async () => {
    const { cluster } = await start({ PARLEY_READY_TIMEOUT: "10s", FAKE_NEVER_READY: "edge-1" });

    await expect(cluster.ready).rejects.toThrow("not ready within 10 s: edge-1 (GET /readyz did not answer 200)");
    expect(await cluster.stopped).toBe(1);
  });

  it("refuses to start when an app's port is taken, naming the variable that moves it, and releases what it started", async () => {
    const ports = await clusterPorts(2);
    const squatter = net.createServer();
    await listenOn(squatter, Number(ports.API_PORT), "127.0.0.1");
    try {
      const output = memoryOutput();
      const env = { ...baseEnv(), ...ports, DATABASE_URL: database.url, REDIS_URL: redis.url, PARLEY_DATA_DIR: path.join(root.dir, ".data") };
      await expect(startCluster({ env, rootDir: root.dir, log: output })).rejects.toThrow(
        `port ${ports.API_PORT} for api is in use (is another cluster running?); set API_PORT to move it`,
      );
      expect(await connects(Number(ports.SMTP_CATCHER_HTTP_PORT))).toBe(false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("rejects a bad EDGE_COUNT before starting anything", async () => {
    const env = { ...baseEnv(), EDGE_COUNT: "many", DATABASE_URL: database.url };
    await expect(startCluster({ env, rootDir: root.dir, log: memoryOutput() })).rejects.toThrow("EDGE_COUNT: must be a whole number from 0 to 32");
  });
});
