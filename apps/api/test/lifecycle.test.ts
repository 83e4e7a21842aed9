import { freePort, redisAnswers, waitFor } from "@parley/testing";
import { spawn, type ChildProcess } from "node:child_process";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ApiHarness } from "./support/api-harness";

// A Redis of this test's own, so it can be killed without touching the shared one.
let redisServer: ChildProcess | undefined;
afterAll(() => {
  redisServer?.kill("SIGKILL");
});

async function startOwnRedis(): Promise<string> {
  const port = await freePort();
  redisServer = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(() => redisAnswers(url), { timeout: 10_000 });
  return url;
}

describe("when Redis dies under a running API node", () => {
  it("logs the connection errors (never the console) and close() still releases everything", async () => {
    const consoleError = vi.spyOn(console, "error");
    const lines: string[] = [];
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const api = await ApiHarness.start({ REDIS_URL: await startOwnRedis() }, { logs });
    redisServer?.kill("SIGKILL");
    await waitFor(() => lines.some((line) => line.includes("connection error")), { timeout: 10_000 });
    await api.node.close();
    expect(lines.join("")).toContain("api node closed");
    expect(consoleError.mock.calls.map((call) => String(call[0])).filter((text) => text.includes("ioredis"))).toEqual([]);
    consoleError.mockRestore();
    await api.database.drop();
  });
});
