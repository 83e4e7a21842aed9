import type { Logger } from "@parley/observability";
import { parseJsonWith } from "@parley/protocol";
import { INTERNAL_CHANNEL_PATH, internalRequestFrame, type InternalResult } from "@parley/protocol/internal";
import { createHash, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type { Duplex } from "node:stream";
import { Counter, type Registry } from "prom-client";
import { WebSocketServer, type WebSocket } from "ws";
import type { InternalCommands } from "./internal-commands";

export interface EdgeChannelOptions {
  readonly secret: string;
  readonly commands: InternalCommands;
  readonly logger: Logger;
  readonly commandsTotal: Counter<"op" | "outcome">;
}

/** Registered whether or not the channel is configured, so dashboards see zeros rather than a missing series. */
export function internalCommandsCounter(registry: Registry): Counter<"op" | "outcome"> {
  return new Counter({
    name: "parley_internal_commands_total",
    help: "Commands edges sent over the internal channel, by operation and outcome (ok or the error code).",
    labelNames: ["op", "outcome"],
    registers: [registry],
  });
}

/** Close code of a frame that does not parse: the edge has a bug or is not an edge; it reconnects and logs. */
const CLOSE_PROTOCOL_ERROR = 1008;
/** Results per outgoing frame. */
const MAX_RESULTS_PER_FRAME = 512;

/** Constant-time comparison of a presented secret with the configured one (hashed first: equal lengths). */
export function secretMatches(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The presented secret from `Authorization: Bearer <secret>`, if any. */
function presentedSecret(req: http.IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1];
}

/**
 * The API's end of the internal edge channel: a WebSocket per edge on INTERNAL_CHANNEL_PATH, admitted only with
 * INTERNAL_SECRET. Each frame carries commands of many users; each command runs at once (sends from many users
 * reach MessageService.send together, where they are committed in groups) and its result goes back by id, results
 * finished in the same tick sharing one frame.
 */
export class EdgeChannelServer {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, clientTracking: false });
  private readonly sockets = new Set<WebSocket>();
  private readonly inFlight = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: EdgeChannelOptions) {}

  /** Handles upgrades on the internal path; any other upgrade is refused 404. */
  attach(server: http.Server): void {
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      const path = (req.url ?? "").split("?")[0];
      if (path !== INTERNAL_CHANNEL_PATH) {
        refuse(socket, 404, "not_found", "No such endpoint.");
        return;
      }
      if (this.closing !== undefined) {
        refuse(socket, 503, "node_restarting", "This node is restarting.");
        return;
      }
      const presented = presentedSecret(req);
      if (presented === undefined || !secretMatches(presented, this.options.secret)) {
        this.options.logger.warn({ remote: req.socket.remoteAddress }, "internal channel refused: wrong secret");
        refuse(socket, 401, "unauthorized", "The internal channel needs INTERNAL_SECRET.");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.accept(ws);
      });
    });
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    this.options.logger.info({ edges: this.sockets.size }, "edge connected to the internal channel");
    let outgoing: InternalResult[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const results = outgoing;
      outgoing = [];
      if (ws.readyState !== ws.OPEN) return;
      for (let start = 0; start < results.length; start += MAX_RESULTS_PER_FRAME) {
        ws.send(JSON.stringify({ type: "results", results: results.slice(start, start + MAX_RESULTS_PER_FRAME) }));
      }
    };
    ws.on("message", (data, isBinary) => {
      const frame = isBinary ? undefined : parseJsonWith(internalRequestFrame, rawText(data));
      if (frame === undefined) {
        this.options.logger.error("internal channel frame did not parse; closing the channel");
        ws.close(CLOSE_PROTOCOL_ERROR, "malformed frame");
        return;
      }
      for (const command of frame.commands) {
        const run: Promise<InternalResult> =
          this.closing === undefined
            ? this.options.commands.run(command)
            : Promise.resolve({ id: command.id, ok: false, status: 503, error: { code: "unavailable", message: "The API is restarting; retry." } });
        const work = run.then((result) => {
          this.options.commandsTotal.inc({ op: command.op, outcome: result.ok ? "ok" : result.error.code });
          outgoing.push(result);
          if (!scheduled) {
            scheduled = true;
            setImmediate(flush);
          }
        });
        this.inFlight.add(work);
        void work.finally(() => this.inFlight.delete(work));
      }
    });
    ws.on("error", (error) => {
      this.options.logger.warn({ err: error }, "internal channel socket error");
    });
    ws.on("close", () => {
      this.sockets.delete(ws);
    });
  }

  /** Refuses new edges, lets commands in flight finish and answers them, then closes every channel. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.inFlight]);
      // Answers finished in this tick go out before the close frame.
      await new Promise((resolve) => setImmediate(resolve));
      for (const ws of this.sockets) ws.close(1001, "node restarting");
      this.wss.close();
    })();
    return this.closing;
  }
}

function rawText(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : status === 404 ? "Not Found" : "Service Unavailable"}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
