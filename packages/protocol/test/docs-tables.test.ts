import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CloseCode, ERRORS, type ErrorCode } from "../src";

// docs/PROTOCOL.md is the public contract: its error and close-code tables must say what the code does.
const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/PROTOCOL.md"), "utf8");

/** The rows of the first table after `heading`, as cells. */
function tableAfter(heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no "${heading}" in docs/PROTOCOL.md`);
  const lines = doc.slice(start).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split("|").slice(1, -1).map((cell) => cell.trim()));
  }
  return rows;
}

describe("docs/PROTOCOL.md keeps the code's tables", () => {
  it("lists every error code with its HTTP status and close code, and nothing else", () => {
    const documented = new Map(tableAfter("## Errors").map(([code = "", status = "", close = ""]) => [code.replace(/`/g, ""), { status: Number(status), close: close === "" ? undefined : Number(close) }]));
    const fromCode = new Map(
      (Object.keys(ERRORS) as ErrorCode[]).map((code) => {
        const spec: { status: number; close?: number } = ERRORS[code];
        return [code, { status: spec.status, close: spec.close }];
      }),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(fromCode));
  });

  it("lists every close code, and nothing else", () => {
    const documented = tableAfter("### Close codes").map(([code = ""]) => Number(code));
    expect(documented.sort()).toEqual(Object.values(CloseCode).sort());
  });
});
