import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactUrlTokens } from "../src";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
const PASSWORD = "hunter2-correct-horse";

function capture(): { lines: () => Record<string, unknown>[]; raw: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString("utf8"));
      callback();
    },
  });
  return {
    stream,
    raw: () => chunks.join(""),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe("createLogger", () => {
  it("writes JSON lines with service, node, level label and an ISO time", () => {
    const out = capture();
    const logger = createLogger({ name: "api", nodeId: "api-1", destination: out.stream });
    logger.info({ conversation_id: "c1", seq: 7 }, "message stored");
    const [line] = out.lines();
    expect(line).toMatchObject({ service: "api", node: "api-1", level: "info", conversation_id: "c1", seq: 7, msg: "message stored" });
    expect(new Date(line!.time as string).toISOString()).toBe(line!.time);
  });

  it("respects the level", () => {
    const out = capture();
    const logger = createLogger({ name: "api", level: "warn", destination: out.stream });
    logger.info("hidden");
    logger.warn("shown");
    expect(out.lines().map((line) => line.msg)).toEqual(["shown"]);
  });

  it("never writes tokens, passwords, authorization headers or secrets", () => {
    const out = capture();
    const logger = createLogger({ name: "api", destination: out.stream });
    logger.info({ token: TOKEN, password: PASSWORD, user: "ada" }, "top level");
    logger.info({ body: { username: "ada", password: PASSWORD }, auth: { access_token: TOKEN, token: TOKEN } }, "nested");
    logger.info({ headers: { authorization: `Bearer ${TOKEN}`, "user-agent": "vitest" } }, "headers");
    logger.info({ req: { method: "GET", url: `/ws?access_token=${TOKEN}&v=1`, headers: { authorization: `Bearer ${TOKEN}`, cookie: `sid=${TOKEN}` } } }, "request");
    logger.info({ config: { JWT_SECRET: PASSWORD, PORT: 3000 }, JWT_SECRET: PASSWORD }, "config");
    logger.info({ url: `/v1/users/me?access_token=${TOKEN}` }, "url");
    logger.child({ accessToken: TOKEN }).info({ refresh_token: TOKEN }, "child");

    const raw = out.raw();
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain(PASSWORD);
    const lines = out.lines();
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatchObject({ user: "ada", token: "[redacted]", password: "[redacted]" });
    expect(lines[1]).toMatchObject({ body: { username: "ada", password: "[redacted]" } });
    expect(lines[2]).toMatchObject({ headers: { authorization: "[redacted]", "user-agent": "vitest" } });
    expect(lines[3]).toMatchObject({ req: { method: "GET", url: "/ws?access_token=[redacted]&v=1", headers: { cookie: "[redacted]" } } });
    expect(lines[4]).toMatchObject({ config: { JWT_SECRET: "[redacted]", PORT: 3000 } });
    expect(lines[5]).toMatchObject({ url: "/v1/users/me?access_token=[redacted]" });
  });

  it("redacts a real incoming request's authorization header and access_token query", async () => {
    const out = capture();
    const logger = createLogger({ name: "edge", destination: out.stream });
    const server = http.createServer((req, res) => {
      logger.info({ req }, "upgrade");
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/ws?access_token=${TOKEN}`, { headers: { authorization: `Bearer ${TOKEN}`, "x-request-id": "r-1" } });
      await response.arrayBuffer();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(out.raw()).not.toContain(TOKEN);
    expect(out.lines()[0]).toMatchObject({
      req: { method: "GET", url: "/ws?access_token=[redacted]", headers: { authorization: "[redacted]", "x-request-id": "r-1" } },
    });
  });
});

describe("redactUrlTokens", () => {
  it("replaces token query values and keeps everything else", () => {
    expect(redactUrlTokens(`/ws?v=1&access_token=${TOKEN}#x`)).toBe("/ws?v=1&access_token=[redacted]#x");
    expect(redactUrlTokens(`https://h/p?token=${TOKEN}&a=b`)).toBe("https://h/p?token=[redacted]&a=b");
    expect(redactUrlTokens("/v1/conversations?limit=20")).toBe("/v1/conversations?limit=20");
    expect(redactUrlTokens("/v1/tokens/access_token=literal")).toBe("/v1/tokens/access_token=literal");
  });
});
