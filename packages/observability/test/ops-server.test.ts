import http from "node:http";
import net from "node:net";
import { Redis } from "ioredis";
import { Counter } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, type TestRedis } from "@parley/testing";
import { createMetrics, createOpsHandler, httpRequestDuration, postgresCheck, redisCheck, startOpsServer, type OpsServer } from "../src";

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let testRedis: TestRedis;
let redis: Redis;
let deadRedis: Redis;
const servers: OpsServer[] = [];

beforeAll(async () => {
  testRedis = await createTestRedis("observability");
  redis = new Redis(testRedis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  // Nothing listens there: every reconnect fails, so PING can never answer.
  deadRedis = new Redis({ host: "127.0.0.1", port: await closedPort(), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  redis.disconnect();
  deadRedis.disconnect();
  await testRedis.cleanup();
});

async function serve(options: Omit<Parameters<typeof startOpsServer>[0], "port" | "registry"> & { registry?: Parameters<typeof startOpsServer>[0]["registry"] }): Promise<string> {
  const registry = options.registry ?? createMetrics({ service: "test", nodeId: "n1" }).registry;
  const server = await startOpsServer({ ...options, registry, port: 0, host: "127.0.0.1" });
  servers.push(server);
  return `http://127.0.0.1:${server.port}`;
}

describe("ops server", () => {
  it("serves default process metrics and app metrics with the service and node labels", async () => {
    const metrics = createMetrics({ service: "worker", nodeId: "worker-7" });
    const jobs = new Counter({ name: "parley_jobs_total", help: "Jobs run.", registers: [metrics.registry] });
    jobs.inc();
    httpRequestDuration(metrics.registry).observe({ method: "GET", route: "/v1/unread", status_code: "200" }, 0.012);
    const base = await serve({ registry: metrics.registry, checks: {} });

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="worker",node="worker-7"\} /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes\{service="worker",node="worker-7"\} /m);
    expect(text).toContain('parley_jobs_total{service="worker",node="worker-7"} 1');
    expect(text).toMatch(/parley_http_request_duration_seconds_count\{service="worker",node="worker-7",method="GET",route="\/v1\/unread",status_code="200"\} 1/);
  });

  it("keeps registries apart so several nodes can live in one process", () => {
    const a = createMetrics({ service: "api", nodeId: "a", collectDefault: false });
    const b = createMetrics({ service: "api", nodeId: "b", collectDefault: false });
    expect(httpRequestDuration(a.registry)).toBe(httpRequestDuration(a.registry));
    expect(httpRequestDuration(a.registry)).not.toBe(httpRequestDuration(b.registry));
  });

  it("answers /healthz while the process is up", async () => {
    const base = await serve({ checks: { redis: redisCheck(deadRedis) } });
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("is ready when every check passes against real services", async () => {
    const base = await serve({ checks: { redis: redisCheck(redis), ping: postgresCheck(() => redis.ping()) } });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ready", checks: { redis: "ok", ping: "ok" } });
  });

  it("is not ready, naming the failing check, when a dependency does not answer", async () => {
    const base = await serve({ checks: { cache: redisCheck(redis), redis: redisCheck(deadRedis) } });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { status: string; checks: Record<string, string> };
    expect(body.status).toBe("not_ready");
    expect(body.checks.cache).toBe("ok");
    expect(body.checks.redis).not.toBe("ok");
    expect(body.checks.redis!.length).toBeGreaterThan(0);
  });

  it("gives up on a check that hangs after its timeout", async () => {
    const base = await serve({ checks: { slow: () => new Promise<void>(() => undefined) }, checkTimeoutMs: 100 });
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "not_ready", checks: { slow: "timed out after 100 ms" } });
  });

  it("answers 503 draining while draining, whatever the checks say", async () => {
    let draining = false;
    const base = await serve({ checks: { redis: redisCheck(redis) }, isDraining: () => draining });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    draining = true;
    const response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "draining" });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("leaves other paths to the server that delegates to it, and refuses other methods", async () => {
    const handle = createOpsHandler({ registry: createMetrics({ service: "edge", nodeId: "e1", collectDefault: false }).registry, checks: {} });
    const server = http.createServer((req, res) => {
      if (!handle(req, res)) res.writeHead(200, { "content-type": "text/plain" }).end("the app");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      expect(await (await fetch(`${base}/v1/anything`)).text()).toBe("the app");
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
      expect((await fetch(`${base}/readyz`, { method: "POST" })).status).toBe(405);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    const standalone = await serve({ checks: {} });
    expect((await fetch(`${standalone}/v1/anything`)).status).toBe(404);
  });

  it("leaves /metrics to the caller with metrics: false (a public port), still answering the probes", async () => {
    const handle = createOpsHandler({ registry: createMetrics({ service: "api", nodeId: "a1", collectDefault: false }).registry, checks: {}, metrics: false });
    const server = http.createServer((req, res) => {
      if (!handle(req, res)) res.writeHead(404, { "content-type": "text/plain" }).end("not here");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(404);
      expect(await metrics.text()).toBe("not here");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("closes twice without error", async () => {
    const server = await startOpsServer({ registry: createMetrics({ service: "t", nodeId: "n", collectDefault: false }).registry, checks: {}, port: 0, host: "127.0.0.1" });
    await fetch(`http://127.0.0.1:${server.port}/healthz`);
    await server.close();
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.port}/healthz`)).rejects.toThrow();
  });
});
