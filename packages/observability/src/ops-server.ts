import http from "node:http";
import type { Registry } from "prom-client";
import { listenOn } from "./http-listen";

export type ReadinessCheck = () => Promise<void>;

export interface OpsHandlerOptions {
  readonly registry: Registry;
  /** Dependencies that must answer for the node to be ready, by name (e.g. postgres, redis). */
  readonly checks: Record<string, ReadinessCheck>;
  /** While true, `/readyz` answers 503 "draining" so the load balancer stops routing here. */
  readonly isDraining?: () => boolean;
  /** Per-check deadline; 2 s unless given. */
  readonly checkTimeoutMs?: number;
  /** False on a public port: `/metrics` is left to the caller (a 404), served only by the ops server. True unless given. */
  readonly metrics?: boolean;
}

export type OpsHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

const DEFAULT_CHECK_TIMEOUT_MS = 2_000;

class CheckTimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.name = "CheckTimeoutError";
  }
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new CheckTimeoutError(timeoutMs));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(), deadline]);
    return "ok";
  } catch (error) {
    return error instanceof Error && error.message !== "" ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(head ? undefined : text);
}

async function readiness(options: OpsHandlerOptions): Promise<{ status: number; body: unknown }> {
  if (options.isDraining?.() === true) return { status: 503, body: { status: "draining" } };
  const timeoutMs = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const entries = Object.entries(options.checks);
  const results = await Promise.all(entries.map(async ([name, check]) => [name, await runCheck(check, timeoutMs)] as const));
  const checks = Object.fromEntries(results);
  const ready = results.every(([, result]) => result === "ok");
  // Draining may have started while the checks ran.
  if (options.isDraining?.() === true) return { status: 503, body: { status: "draining" } };
  return ready ? { status: 200, body: { status: "ready", checks } } : { status: 503, body: { status: "not_ready", checks } };
}

const PROBE_PATHS = new Set(["/healthz", "/readyz"]);
const OPS_PATHS = new Set([...PROBE_PATHS, "/metrics"]);

/**
 * Serves `/healthz`, `/readyz` and (unless `metrics: false`) `/metrics`; returns false for any other path so the
 * caller's own server (an edge's HTTP server, an Express app) handles it.
 */
export function createOpsHandler(options: OpsHandlerOptions): OpsHandler {
  const paths = options.metrics === false ? PROBE_PATHS : OPS_PATHS;
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === undefined || !paths.has(path)) return false;
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return true;
    }
    if (path === "/healthz") {
      sendJson(res, 200, { status: "ok" }, head);
      return true;
    }
    const work =
      path === "/readyz"
        ? readiness(options).then(({ status, body }) => {
            sendJson(res, status, body, head);
          })
        : options.registry.metrics().then((text) => {
            res.writeHead(200, { "content-type": options.registry.contentType, "cache-control": "no-store" });
            res.end(head ? undefined : text);
          });
    work.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { status: "error", message: error instanceof Error ? error.message : String(error) }, head);
      else res.destroy();
    });
    return true;
  };
}

export interface OpsServerOptions extends OpsHandlerOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly host?: string;
}

export interface OpsServer {
  readonly port: number;
  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

/** A standalone HTTP server for nodes (the worker) that have no other HTTP server. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const handle = createOpsHandler(options);
  const server = http.createServer((req, res) => {
    if (!handle(req, res)) sendJson(res, 404, { status: "not_found" }, req.method === "HEAD");
  });
  const port = await listenOn(server, options.port, options.host);
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
        // A scraper's keep-alive connection would otherwise hold close() open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Readiness of PostgreSQL: `ping` runs a trivial query (e.g. `() => sql\`select 1\``). */
export function postgresCheck(ping: () => Promise<unknown>): ReadinessCheck {
  return async () => {
    await ping();
  };
}

/** Readiness of Redis: PING must answer PONG. */
export function redisCheck(redis: { ping(): Promise<string> }): ReadinessCheck {
  return async () => {
    const answer = await redis.ping();
    if (answer !== "PONG") throw new Error(`unexpected PING answer: ${answer}`);
  };
}
