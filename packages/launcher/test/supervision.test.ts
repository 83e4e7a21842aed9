import { fileURLToPath } from "node:url";
import { createTestDatabase, createTestRedis, waitFor, type TestDatabase, type TestRedis } from "@parley/testing";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { startCluster, type Cluster } from "../src/launcher";
import { memoryOutput } from "../src/output";
import { baseEnv, clusterPorts, temporaryDataDir } from "./launcher-process";

// The real API and edges of this repository, started the way `pnpm start` starts them.
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

let database: TestDatabase;
let redis: TestRedis;
let data: { dir: string; remove(): Promise<void> };
let cluster: Cluster;
const output = memoryOutput();
const sockets: WebSocket[] = [];

beforeAll(async () => {
  [database, redis, data] = await Promise.all([createTestDatabase(), createTestRedis("launcher-supervision"), temporaryDataDir()]);
  cluster = await startCluster({
    env: {
      ...baseEnv(),
      ...(await clusterPorts(2)),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      PARLEY_DATA_DIR: data.dir,
      PARLEY_APPS: "api,edge",
      PARLEY_WEB: "false",
      LOG_LEVEL: "warn",
      // Long enough that the other edge is tried while this one is certainly still down.
      LAUNCHER_RESTART_DELAY: "5s",
    },
    rootDir: repoRoot,
    log: output,
  });
  await cluster.ready;
}, 120_000);

afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await cluster.stop();
  await Promise.all([database.drop(), redis.cleanup(), data.remove()]);
});

async function register(): Promise<string> {
  const username = `sup${Math.random().toString(36).slice(2, 10)}`;
  const response = await fetch(`${cluster.urls.api ?? ""}/v1/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: "correct horse battery", display_name: username, role: "user" }),
  });
  expect(response.status).toBe(201);
  return z.object({ access_token: z.string() }).parse(await response.json()).access_token;
}

/** Opens a socket, authenticates with a first frame and resolves once `connected` arrives. */
function connect(url: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    socket.once("open", () => socket.send(JSON.stringify({ type: "auth", token })));
    socket.on("message", (raw: Buffer) => {
      const frame = z.object({ type: z.string() }).safeParse(JSON.parse(raw.toString("utf8")));
      if (frame.success && frame.data.type === "connected") resolve(socket);
    });
    socket.once("error", reject);
    socket.once("close", (code) => reject(new Error(`${url} closed ${code} before connected`)));
  });
}

describe("pnpm start supervises the apps", () => {
  it("an edge killed with SIGKILL comes back while clients use the other edge, and takes clients again", async () => {
    const token = await register();
    const [edge1Url, edge2Url] = cluster.urls.edges;
    const edge1 = cluster.app("edge-1");
    const onEdge1 = await connect(edge1Url!, token);
    const dropped = new Promise<number>((resolve) => onEdge1.once("close", resolve));

    const back = edge1.nextStart();
    const killedPid = edge1.pid;
    edge1.signal("SIGKILL");
    await dropped;
    await waitFor(() => edge1.state === "restarting", { timeout: 10_000, message: "the launcher did not notice the kill" });
    // Meanwhile: the other edge takes a client, and the API still answers.
    await connect(edge2Url!, token);
    expect(edge1.state).toBe("restarting");
    expect((await fetch(`${cluster.urls.api ?? ""}/readyz`)).status).toBe(200);

    const newPid = await back;
    expect(newPid).not.toBe(killedPid);
    await edge1.ready();
    await connect(edge1Url!, token);
    expect(output.lines).toContain("parley | edge-1 was killed by SIGKILL unexpectedly; restarting it in 5 s (restart 1)");
    expect(output.lines).toContain(`parley | edge-1 started (pid ${newPid})`);
    expect(cluster.app("edge-2").restarts).toBe(0);
    expect(cluster.app("api").restarts).toBe(0);
  }, 120_000);
});
