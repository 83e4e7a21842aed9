import { Parser } from "@asyncapi/parser";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { clientFrameSchemas, restRoutes, serverFrame } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { api, useApiPerFile } from "./support/api-per-file";

useApiPerFile();

describe("GET /v1/openapi.json", () => {
  it("is lint-clean under Redocly's recommended rules", async () => {
    const document = await api.request<Record<string, unknown>>("GET", "/v1/openapi.json");
    expect(document.status).toBe(200);
    const config = await createConfig({ extends: ["recommended"] });
    const problems = await lintFromString({ source: JSON.stringify(document.body), absoluteRef: "openapi.json", config });
    expect(problems.map((problem) => `${problem.severity} ${problem.ruleId}: ${problem.message} (${problem.location[0]?.pointer ?? ""})`)).toEqual([]);
  });

  it("names every operation of the route table by its operationId", async () => {
    const document = await api.request<{ paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> }>("GET", "/v1/openapi.json");
    const operations = Object.values(document.body.paths).flatMap((methods) => Object.values(methods));
    expect(operations.map((operation) => operation.operationId).sort()).toEqual(Object.keys(restRoutes).sort());
    for (const operation of operations) expect(Object.keys(operation.responses).some((status) => status.startsWith("4"))).toBe(true);
  });
});

describe("GET /v1/asyncapi.json", () => {
  it("is a valid AsyncAPI 3 document, served without a token", async () => {
    const document = await api.request<Record<string, unknown>>("GET", "/v1/asyncapi.json");
    expect(document.status).toBe(200);
    expect(document.body.asyncapi).toMatch(/^3\./);
    const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document.body));
    // Severity 0 is an error; warnings and hints are listed too so the document stays clean.
    expect(diagnostics.map((d) => `${d.severity} ${String(d.code)}: ${d.message} (${d.path.join(".")})`)).toEqual([]);
    expect(parsed).toBeDefined();
  });

  it("describes every client command with its reply and every server frame", async () => {
    const document = await api.request<{ operations: Record<string, { action: string; reply?: unknown }> }>("GET", "/v1/asyncapi.json");
    const received = Object.entries(document.body.operations).filter(([, op]) => op.action === "receive");
    expect(received.map(([id]) => id.replace("receive_", "")).sort()).toEqual(Object.keys(clientFrameSchemas).sort());
    expect(received.every(([, op]) => op.reply !== undefined)).toBe(true);
    const sent = Object.entries(document.body.operations).filter(([, op]) => op.action === "send").map(([id]) => id.replace("send_", ""));
    const serverTypes = serverFrame.options.map((frame) => frame.shape.type.value).filter((type) => type !== "ack" && type !== "pong");
    expect(sent.sort()).toEqual(serverTypes.sort());
  });
});
