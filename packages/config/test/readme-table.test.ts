import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { apiEnv, edgeEnv, workerEnv } from "../src";

// The README's configuration table is where operators look: it lists every variable a node reads, with the
// nodes that read it and the schema's own default.
const readme = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../README.md"), "utf8");
const NODES = { api: apiEnv, edge: edgeEnv, worker: workerEnv } as const;

/** The raw default of a config field (before its transform), or undefined when it has none. */
function rawDefault(schema: unknown): unknown {
  let current = schema as { _zod: { def: { type: string; defaultValue?: unknown; in?: unknown } } };
  for (;;) {
    const def = current._zod.def;
    if (def.type === "default") return def.defaultValue;
    if (def.type !== "pipe") return undefined;
    current = def.in as typeof current;
  }
}

interface Row {
  readonly variable: string;
  readonly defaults: string;
  readonly usedBy: string;
}

function rows(): Row[] {
  const start = readme.indexOf("| variable | default | used by | meaning |");
  const lines = readme.slice(start).split("\n").slice(2);
  const out: Row[] = [];
  for (const line of lines) {
    if (!line.startsWith("|")) break;
    const [variable = "", defaults = "", usedBy = ""] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    out.push({ variable: variable.replace(/`/g, ""), defaults, usedBy });
  }
  return out;
}

describe("README configuration table", () => {
  const table = rows();
  const nodesOf = new Map<string, string[]>();
  for (const [node, schema] of Object.entries(NODES)) for (const variable of Object.keys(schema.shape)) nodesOf.set(variable, [...(nodesOf.get(variable) ?? []), node]);

  it("lists every variable a node reads, once, with the nodes that read it", () => {
    const documented = table.filter((row) => row.usedBy !== "`pnpm start`");
    expect(documented.map((row) => row.variable).sort()).toEqual([...nodesOf.keys()].sort());
    for (const row of documented) expect(row.usedBy.split(/,\s*/), row.variable).toEqual(nodesOf.get(row.variable));
  });

  it("gives each variable its true default", () => {
    for (const row of table) {
      for (const node of nodesOf.get(row.variable) ?? []) {
        const fallback = rawDefault(NODES[node as keyof typeof NODES].shape[row.variable as never]);
        if (fallback === undefined || fallback === "") expect(row.defaults, row.variable).toMatch(/^—/);
        else expect(row.defaults, `${row.variable} on ${node}`).toContain(`\`${JSON.stringify(fallback).replace(/^"|"$/g, "")}\``);
      }
    }
  });
});
