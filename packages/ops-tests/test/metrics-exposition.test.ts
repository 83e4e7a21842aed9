import http from "node:http";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, createTestRedis, freePort, startAppProcess, waitFor, type AppProcess, type TestDatabase, type TestRedis } from "@parley/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTRACT, type App } from "./support/metric-contract";
import { repoPath, requirePromtool, run } from "./support/repo";

const APPS: readonly App[] = ["api", "edge", "worker"];
const JWT_SECRET = "ops-tests-secret-that-is-long-enough-for-hs256";

/**
 * prom-client's own default gauges named `*_total` (nodejs_active_handles_total and friends): the
 * only promtool findings tolerated, because the apps cannot rename prom-client's defaults.
 */
const PROM_CLIENT_DEFAULT_FINDINGS = new Set(
  ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"].map(
    (name) => `${name} non-counter metrics should not have "_total" suffix`,
  ),
);

/** Starts apps/<app> as its image does (`node --import tsx src/main.ts`) and waits for /readyz. */
function startApp(app: App, env: Record<string, string>): Promise<AppProcess> {
  return startAppProcess({ name: app, cwd: repoPath("apps", app), env, readyTimeoutMs: 40_000 });
}

let database: TestDatabase | undefined;
let redis: TestRedis | undefined;
const nodes = new Map<App, AppProcess>();

function node(app: App): AppProcess {
  const found = nodes.get(app);
  if (!found) throw new Error(`${app} did not start`);
  return found;
}

/** The worker serves /metrics on its only port; the API and edges only on their ops port (OPS_PORT). */
function metricsUrl(app: App): string {
  return `${app === "worker" ? node(app).url : node(app).opsUrl}/metrics`;
}

async function scrape(app: App): Promise<string> {
  const response = await fetch(metricsUrl(app));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

/** `# TYPE` lines of an exposition: metric name -> type. */
function declaredTypes(exposition: string): Map<string, string> {
  return new Map([...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

/** A WebSocket handshake with a forged token: the edge must refuse it with 401 before upgrading. */
function refusedHandshake(baseUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${baseUrl}/v1/ws`, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": Buffer.from("ops-tests-nonce!").toString("base64"),
        Authorization: "Bearer not.a.jwt",
      },
    });
    request.once("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once("upgrade", (_response, socket) => {
      socket.destroy();
      reject(new Error("the edge upgraded a connection with a forged token"));
    });
    request.once("error", reject);
  });
}

beforeAll(async () => {
  const [db, keys] = await Promise.all([createTestDatabase({ migrate, templateKey: migrationsFingerprint() }), createTestRedis("ops")]);
  database = db;
  redis = keys;
  const common = {
    NODE_ENV: "production",
    LOG_LEVEL: "warn",
    REDIS_URL: keys.url,
    REDIS_KEY_PREFIX: keys.prefix,
  };
  // Nothing listens there: the worker sends no mail in this test, and readiness does not need SMTP.
  const smtpPort = await freePort();
  const api = await startApp("api", { ...common, NODE_ID: "ops-api", DATABASE_URL: db.url, JWT_SECRET });
  nodes.set("api", api);
  const [edge, worker] = await Promise.all([
    startApp("edge", { ...common, NODE_ID: "ops-edge", JWT_SECRET, API_URL: api.url, DRAIN_SPREAD_MS: "200ms" }),
    startApp("worker", { ...common, NODE_ID: "ops-worker", DATABASE_URL: db.url, SMTP_URL: `smtp://127.0.0.1:${smtpPort}` }),
  ]);
  nodes.set("edge", edge);
  nodes.set("worker", worker);
  // Exercise labelled series so promtool sees them too: a refused REST call and a refused handshake.
  expect((await fetch(`${api.url}/v1/users/me`)).status).toBe(401);
  expect(await refusedHandshake(edge.url)).toBe(401);
}, 90_000);

afterAll(async () => {
  await Promise.all([...nodes.values()].map((n) => n.stop()));
  await Promise.all([database?.drop(), redis?.cleanup()]);
});

describe.each(APPS)("the %s node's /metrics", (app) => {
  it("passes promtool check metrics", async () => {
    const promtool = requirePromtool();
    const result = run(promtool, ["check", "metrics"], { input: await scrape(app) });
    const findings = (result.stdout + result.stderr)
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0 && !PROM_CLIENT_DEFAULT_FINDINGS.has(line));
    expect(findings, `promtool check metrics on ${app}`).toEqual([]);
    expect([0, 3], `promtool exit code (1 = unparseable exposition)`).toContain(result.status);
  });

  it("exports the contract's metrics with their types", async () => {
    const types = declaredTypes(await scrape(app));
    for (const metric of CONTRACT[app]) {
      expect(types.get(metric.name), `${app} exports ${metric.name}`).toBe(metric.type);
    }
  });

  it("labels every series with its service and node, and has the default process metrics", async () => {
    const exposition = await scrape(app);
    const cpu = exposition.split("\n").find((line) => line.startsWith("process_cpu_seconds_total"));
    expect(cpu).toMatch(new RegExp(`service="${app}"`));
    expect(cpu).toMatch(new RegExp(`node="ops-${app}"`));
    expect(declaredTypes(exposition).get("process_open_fds")).toBe("gauge");
  });
});

describe.each(["api", "edge"] as const)("the %s node's public port", (app) => {
  it("answers the probes but not /metrics (404 with the error body)", async () => {
    const response = await fetch(`${node(app).url}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "not_found" } });
    for (const path of ["/healthz", "/readyz"]) expect((await fetch(`${node(app).url}${path}`)).status, path).toBe(200);
  });
});

describe("labelled series", () => {
  it("record the refused REST call by route and status", async () => {
    const exposition = await scrape("api");
    expect(exposition).toMatch(/parley_http_request_duration_seconds_count\{[^}]*status_code="401"[^}]*\} [1-9]/);
  });

  it("record the refused handshake as an authentication failure with a reason", async () => {
    await waitFor(async () => /^parley_auth_failures_total\{[^}]*reason="[a-z_]+"[^}]*\} [1-9]/m.test(await scrape("edge")), {
      message: "parley_auth_failures_total{reason} counted",
    });
  });
});

describe("SIGTERM", () => {
  it("stops every node cleanly (exit code 0), the edge after its drain", async () => {
    for (const app of ["edge", "worker", "api"] as const) {
      const code = await node(app).stop();
      expect(code, `${app} exit code\n${node(app).output()}`).toBe(0);
    }
  });
});
