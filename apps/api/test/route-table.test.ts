import { createLogger } from "@parley/observability";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app";
import { openApiDocument } from "../src/http/openapi";
import type { ApiServices } from "../src/services/api-services";

/** The parts of an Express 5 router layer this test reads. */
interface Layer {
  readonly rawPath?: unknown;
  readonly route?: { readonly path: string; readonly methods: Record<string, boolean | undefined> };
  readonly handle: { readonly stack?: readonly Layer[] };
}

/** Every `METHOD /path` the app's routers registered, mount paths included. */
function servedRoutes(stack: readonly Layer[], prefix = ""): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const { path, methods } = layer.route;
      return Object.keys(methods).filter((method) => methods[method] === true).map((method) => `${method.toUpperCase()} ${prefix}${path}`);
    }
    if (layer.handle.stack === undefined) return [];
    const mount = typeof layer.rawPath === "string" && layer.rawPath !== "/" ? layer.rawPath : "";
    return servedRoutes(layer.handle.stack, prefix + mount);
  });
}

function documentedRoutes(): string[] {
  const { paths } = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`));
}

describe("the route table", () => {
  it("serves exactly the routes the OpenAPI document describes", () => {
    // Routers only keep the services to call them per request; building the app calls none of them.
    const app = createApp({
      services: {} as ApiServices,
      logger: createLogger({ name: "route-table-test", level: "silent" }),
      registry: new Registry(),
      readiness: {},
      isDraining: () => false,
      maxBodyBytes: 1024,
      trustProxy: false,
      allowedOrigins: [],
    });
    const served = servedRoutes((app.router as unknown as { stack: readonly Layer[] }).stack);
    expect(new Set(served).size).toBe(served.length);
    expect(served.sort()).toEqual(documentedRoutes().sort());
  });
});
