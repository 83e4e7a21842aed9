import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildBrowserBundle } from "../scripts/build";
import type * as sdk from "../src/index";

const outDir = mkdtempSync(path.join(tmpdir(), "parley-sdk-bundle-"));
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe("the browser bundle", () => {
  it("builds for browsers (no Node built-ins), stays within its size budget, and works", async () => {
    const size = await buildBrowserBundle(outDir);
    // The budget docs/SDK.md reports against: zod is most of it, the client itself is small.
    expect(size.gzipBytes).toBeLessThan(80 * 1024);
    expect((size.byPackage["@parley/sdk"] ?? 0) + (size.byPackage["@parley/protocol"] ?? 0)).toBeLessThan(64 * 1024);
    expect(Object.keys(size.byPackage).sort()).toEqual(["@parley/protocol", "@parley/sdk", "zod"]);

    const bundle = (await import(pathToFileURL(path.join(outDir, "parley-sdk.browser.js")).href)) as typeof sdk;
    const rest = new bundle.RestClient({
      baseUrl: "http://api.test",
      fetch: () => Promise.resolve({ status: 400, headers: { get: () => null }, text: () => Promise.resolve('{"error":{"code":"invalid_request","message":"bad","field":"username"}}') }),
    });
    const refused: unknown = await rest.api.login({ body: { username: "x", password: "y" } }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ name: "ParleyRequestError", code: "invalid_request", status: 400, field: "username" });
  });
});
