import { ShiftedClock } from "@parley/testing";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge } from "./support/cluster";
import { handshakeStatus, socketsPerTest, WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
const open = socketsPerTest();
// Each edge reads the time from its own clock: a test moves it to a token's expiry instead of waiting for it.
const clockA = new ShiftedClock();
const clockB = new ShiftedClock();

/** The token's `exp` claim (seconds). */
function expiryOf(token: string): number {
  return (JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as { exp: number }).exp;
}

const track = (client: WsClient) => open.track(client);

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  [edgeA, edgeB] = await Promise.all([cluster.startEdge({ ALLOWED_ORIGINS: "https://app.example.com" }, { clock: clockA }), cluster.startEdge({}, { clock: clockB })]);
  return cluster;
});

afterEach(() => {
  clockA.reset();
  clockB.reset();
});

describe("authentication at the handshake", () => {
  it("accepts a token in the Authorization header or the access_token query", async () => {
    const user = await cluster.register();
    expect(await handshakeStatus(edgeA.url, { token: user.token })).toBe(101);
    const client = track(await WsClient.open(edgeA.url, { token: user.token, tokenInQuery: true }));
    await client.next((frame) => frame.type === "connected" && frame.user_id === user.id);
  });

  it("refuses a bad, an expired or a revoked token with HTTP 401 before the upgrade", async () => {
    const user = await cluster.register();
    expect(await handshakeStatus(edgeA.url, { token: "not.a.jwt" })).toBe(401);
    expect(await handshakeStatus(edgeA.url, { token: `${user.token.slice(0, -4)}AAAA` })).toBe(401);
    const expiring = await cluster.token({ sub: user.id }, 60_000);
    expect(await handshakeStatus(edgeA.url, { token: expiring })).toBe(101);
    // The edge's time past the token's exp (these edges allow no clock skew).
    clockA.setTo(expiryOf(expiring) * 1000 + 1_000);
    expect(await handshakeStatus(edgeA.url, { token: expiring })).toBe(401);
    clockA.reset();

    const login = await cluster.register();
    expect((await cluster.request("POST", "/v1/auth/logout", { token: login.token })).status).toBe(204);
    expect(await handshakeStatus(edgeA.url, { token: login.token })).toBe(401);
    expect(await handshakeStatus(edgeB.url, { token: login.token, tokenInQuery: true })).toBe(401);
  });

  it("refuses a browser origin that is not allowed with 403, and allows listed origins and non-browser clients", async () => {
    const user = await cluster.register();
    expect(await handshakeStatus(edgeA.url, { token: user.token, origin: "https://evil.example.com" })).toBe(403);
    expect(await handshakeStatus(edgeA.url, { token: user.token, origin: "https://app.example.com" })).toBe(101);
    expect(await handshakeStatus(edgeA.url, { token: user.token })).toBe(101);
  });
});

describe("authentication with an auth frame", () => {
  it("connects after a first auth frame, answering commands sent before it with unauthorized", async () => {
    const user = await cluster.register();
    const client = track(await WsClient.open(edgeA.url));
    const early = await client.request({ type: "ping" });
    expect(early).toMatchObject({ type: "error", code: "unauthorized" });
    client.send({ type: "auth", token: user.token });
    await client.next((frame) => frame.type === "connected" && frame.user_id === user.id);
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });
  });

  it("closes 4001 when no auth frame arrives in time", async () => {
    const client = track(await WsClient.open(edgeA.url));
    // Past AUTH_TIMEOUT_MS (800 ms in these tests) on the edge's clock.
    clockA.advance(800);
    const closed = await client.closed;
    expect(closed).toEqual({ code: 4001, reason: "auth_timeout" });
  });

  it("refuses service tokens, which act through REST only: 403 at the handshake, 4003 after an auth frame", async () => {
    const service = await cluster.token({ sub: "booking-system", role: "service" });
    expect(await handshakeStatus(edgeA.url, { token: service })).toBe(403);
    const client = track(await WsClient.open(edgeB.url));
    client.send({ type: "auth", token: service });
    expect((await client.closed).code).toBe(4003);
  });

  it("closes 4001 when the auth frame carries a bad token", async () => {
    const client = track(await WsClient.open(edgeB.url));
    client.send({ type: "auth", token: "garbage" });
    expect((await client.closed).code).toBe(4001);
  });
});

describe("tokens during a connection", () => {
  it("closes every socket using a token revoked anywhere with 4001, on every edge", async () => {
    const user = await cluster.register();
    const onA = track(await WsClient.connect(edgeA.url, user.token));
    const onB = track(await WsClient.connect(edgeB.url, user.token));
    expect((await cluster.request("POST", "/v1/auth/logout", { token: user.token })).status).toBe(204);
    const [closedA, closedB] = await Promise.all([onA.closed, onB.closed]);
    expect(closedA).toEqual({ code: 4001, reason: "token_revoked" });
    expect(closedB).toEqual({ code: 4001, reason: "token_revoked" });
  });

  it("closes 4001 when the token expires", async () => {
    const user = await cluster.register();
    const token = await cluster.token({ sub: user.id }, 60_000);
    const client = track(await WsClient.connect(edgeA.url, token));
    // The edge's time a few seconds before exp (its clock goes on with the real time), then past exp.
    clockA.setTo(expiryOf(token) * 1000 - 5_000);
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });
    clockA.advance(5_000);
    expect(await client.closed).toEqual({ code: 4001, reason: "token_expired" });
  });

  it("keeps the socket open past expiry when the client sends a fresh token", async () => {
    const user = await cluster.register();
    const expiring = await cluster.token({ sub: user.id }, 60_000);
    const client = track(await WsClient.connect(edgeB.url, expiring));
    const refreshed = await client.request({ type: "auth", token: await cluster.token({ sub: user.id }) });
    expect(refreshed).toMatchObject({ type: "ack", data: { user_id: user.id } });
    // Past the first token's expiry as the edge sees it: its timer, had it been left, would close the socket now.
    clockB.setTo(expiryOf(expiring) * 1000 + 1_000);
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });

    const other = await cluster.register();
    const refused = await client.request({ type: "auth", token: other.token });
    expect(refused).toMatchObject({ type: "error", code: "forbidden" });
  });
});

/** Writes a raw HTTP upgrade request and resolves with the status line of the answer ("" when the socket just closed). */
function rawUpgrade(port: number, target: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    });
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      resolve(answer.split("\r\n")[0] ?? "");
    });
  });
}

describe("malformed upgrade requests", () => {
  it("refuses an upgrade whose target is not a valid URL with 400, and the node keeps serving", async () => {
    const edge = await cluster.startEdgeProcess(`edge-url-${Date.now()}`);
    try {
      expect(await rawUpgrade(edge.port, "http://[/v1/ws")).toMatch(/^HTTP\/1\.1 400 /);
      const health = await fetch(`${edge.url}/healthz`);
      expect(health.status).toBe(200);
      const user = await cluster.register();
      const client = track(await WsClient.connect(edge.wsUrl, user.token));
      expect(client.of("connected")).toHaveLength(1);
    } finally {
      await edge.stop("SIGKILL");
    }
  });
});

describe("ops port", () => {
  it("serves /metrics only on the ops port; the public port answers the probes and 404 for /metrics", async () => {
    const edge = await cluster.startEdgeProcess(`edge-ops-${Date.now()}`);
    try {
      const publicMetrics = await fetch(`${edge.url}/metrics`);
      expect(publicMetrics.status).toBe(404);
      expect(await publicMetrics.json()).toMatchObject({ error: { code: "not_found" } });
      expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${edge.url}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${edge.opsUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^parley_ws_connections\{/m);
      expect((await fetch(`${edge.opsUrl}/readyz`)).status).toBe(200);
      expect((await fetch(`${edge.opsUrl}/v1/ws`)).status).toBe(404);
    } finally {
      await edge.stop("SIGKILL");
    }
  });
});
