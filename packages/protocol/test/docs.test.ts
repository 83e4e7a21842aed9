import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { clientFrameSchemas, restRoutes, serverFrame } from "../src";

const protocolDoc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/PROTOCOL.md"), "utf8");

/** The first column of the markdown table that follows `heading`. */
function tableKeys(heading: string): string[] {
  const start = protocolDoc.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const lines = protocolDoc.slice(start).split("\n").slice(1);
  const table = lines.slice(lines.findIndex((line) => line.startsWith("|")));
  const rows = table.slice(0, table.findIndex((line) => !line.startsWith("|"))).slice(2);
  return rows.flatMap((row) => [...(row.split("|")[1] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1] ?? ""));
}

describe("docs/PROTOCOL.md and the schemas say the same", () => {
  it("lists every client frame type, and no other", () => {
    expect(tableKeys("**Client → server**").sort()).toEqual(Object.keys(clientFrameSchemas).sort());
  });

  it("lists every server frame type, and no other", () => {
    expect(tableKeys("**Server → client**").sort()).toEqual(serverFrame.options.map((frame) => frame.shape.type.value).sort());
  });

  it("documents every REST endpoint of the route table", () => {
    for (const route of Object.values(restRoutes)) {
      const documented = `${route.method.toUpperCase()} /v1${route.path}`;
      expect(protocolDoc.includes(documented), documented).toBe(true);
    }
  });
});
