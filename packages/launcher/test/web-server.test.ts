import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer, type WebServer } from "../src/web-server";

let dir: string;
let server: WebServer;

beforeAll(async () => {
  const parent = await mkdtemp(path.join(os.tmpdir(), "parley-web-"));
  dir = path.join(parent, "dist");
  await mkdir(path.join(dir, "assets"), { recursive: true });
  await writeFile(path.join(dir, "index.html"), "<!doctype html><title>app</title>");
  await writeFile(path.join(dir, "assets", "index-abc123.js"), "console.log(1)");
  await writeFile(path.join(parent, "secret.txt"), "outside");
  server = await startWebServer({ dir, port: 0, config: { api_url: "http://127.0.0.1:1", edge_urls: ["ws://127.0.0.1:2/v1/ws"] } });
});

afterAll(async () => {
  await server.close();
  await server.close();
  await rm(path.dirname(dir), { recursive: true, force: true });
});

describe("the web app's static server", () => {
  it("serves /config.json from its options, never cached", async () => {
    const response = await fetch(`${server.url}/config.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({ api_url: "http://127.0.0.1:1", edge_urls: ["ws://127.0.0.1:2/v1/ws"] });
  });

  it("serves hashed assets as immutable with their content type", async () => {
    const response = await fetch(`${server.url}/assets/index-abc123.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toContain("immutable");
    expect(await response.text()).toBe("console.log(1)");
  });

  it("answers client-side routes with index.html (the links in e-mails)", async () => {
    for (const route of ["/", "/conversations/0193a1b2-0000-7000-8000-000000000001", "/settings/notifications", "/confirm-email?token=abc"]) {
      const response = await fetch(`${server.url}${route}`);
      expect(response.status, route).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await response.text()).toContain("<title>app</title>");
    }
  });

  it("answers 404 for a missing file and never serves outside its folder", async () => {
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/%2e%2e/secret.txt`)).status).toBe(404);
    expect((await fetch(`${server.url}/..%2fsecret.txt`)).status).toBe(404);
  });

  it("refuses methods other than GET and HEAD", async () => {
    const response = await fetch(`${server.url}/`, { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });
});
