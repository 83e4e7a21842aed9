import type { Logger } from "./logger";

/** Anything that emits `error` events (an ioredis connection, a BullMQ queue). */
export interface ErrorEmitter {
  on(event: "error", listener: (error: unknown) => void): unknown;
}

/** Logs a connection's `error` events: without a listener ioredis prints them to the console itself. */
export function logConnectionErrors(logger: Logger, name: string, ...emitters: readonly ErrorEmitter[]): void {
  for (const emitter of emitters) {
    emitter.on("error", (error: unknown) => {
      logger.warn({ err: error, connection: name }, "connection error");
    });
  }
}

/** One step of a shutdown, named for the log. */
export type CloseStep = readonly [name: string, run: () => unknown];

/**
 * Runs every shutdown step in order, each even when an earlier one failed (all settled): a failure is logged
 * with its step's name and the rest still release their connections. Resolves with the names that failed.
 */
export async function closeAll(logger: Logger, steps: readonly CloseStep[]): Promise<string[]> {
  const failed: string[] = [];
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (error) {
      failed.push(name);
      logger.error({ err: error, step: name }, "a shutdown step failed; continuing");
    }
  }
  return failed;
}

/** A node with a public port and an ops port (the API and the edges). */
export interface ServingNode {
  readonly nodeId: string;
  /** Listens on `port` (0 picks a free one); resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /** Starts the ops server (`/metrics`, `/healthz`, `/readyz`) on `port` (OPS_PORT unless given; 0 picks one); resolves with it. */
  listenOps(port?: number, host?: string): Promise<number>;
  /** Closes the node; safe to call twice. */
  close(): Promise<void>;
}

/** A started node, as runNode needs it. */
export interface NodeHandle {
  /** Stops the node for `signal` (an edge drains on SIGTERM and closes at once on SIGINT). */
  stop(signal: NodeJS.Signals): Promise<void>;
}

export interface RunNodeOptions<C> {
  readonly name: string;
  /** Reads and validates the configuration; its error message names the bad variables (never their values). */
  readonly readConfig: () => C;
  readonly createLogger: (config: C) => Logger;
  readonly start: (config: C, logger: Logger) => Promise<NodeHandle>;
  /** How long a stop may take before the process exits anyway. */
  readonly forceExitAfterMs: (config: C) => number;
}

/** Codes of a lost connection to PostgreSQL or Redis: the network's, postgres.js's own, and the server shutting down. */
const CONNECTION_LOSS_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown (pg_terminate_backend, a fast restart)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (still starting)
]);

/**
 * Whether an unhandled rejection is a lost database or Redis connection. Drivers can leave one of those unhandled
 * when a server restarts under load (postgres.js rejects a query nobody awaits yet); the pool reconnects, so the
 * process should live on. Anything else is a bug and still ends the process.
 */
export function isConnectionLoss(reason: unknown): boolean {
  if (typeof reason !== "object" || reason === null || !("code" in reason)) return false;
  const code = reason.code;
  return typeof code === "string" && CONNECTION_LOSS_CODES.has(code);
}

/**
 * The one start/stop path of every node's main.ts: config (a bad one exits 1 with its problems), start, then
 * SIGTERM/SIGINT stop the node once, exit 0 when it stopped, 1 when it failed or passed its deadline.
 */
export async function runNode<C>(options: RunNodeOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.readConfig();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : "invalid configuration"}\n`);
    process.exit(1);
  }
  const logger = options.createLogger(config);
  process.on("unhandledRejection", (reason) => {
    if (isConnectionLoss(reason)) {
      logger.warn({ err: reason }, "a lost database or Redis connection was left unhandled by its driver; carrying on (the pool reconnects)");
      return;
    }
    logger.fatal({ err: reason }, "unhandled rejection; exiting");
    process.exit(1);
  });
  let node: NodeHandle;
  try {
    node = await options.start(config, logger);
  } catch (error) {
    logger.error({ err: error }, `${options.name} failed to start`);
    process.stderr.write(`${options.name} failed to start: ${error instanceof Error ? error.message : "unknown error"}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      logger.error({ signal }, "shutdown passed its deadline; exiting");
      process.exit(1);
    }, options.forceExitAfterMs(config));
    force.unref();
    node.stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
