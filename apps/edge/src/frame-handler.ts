import { parseClientFrame } from "@parley/protocol";
import { runCommand, type CommandContext } from "./commands/dispatch";
import type { Connection } from "./connection";

/**
 * A frame of an open socket: parsed by the protocol package; a bad one is answered with a precise `error` (echoing
 * its `id`) and counted as a strike; a good one runs in the socket's serial command queue (`ping` at once).
 */
export function handleOpenFrame(ctx: CommandContext, connection: Connection, text: string | undefined): void {
  if (text === undefined) {
    ctx.metrics.framesReceived.inc({ type: "invalid" });
    connection.error(undefined, "invalid_frame", "Frames must be text (JSON).");
    connection.strike();
    return;
  }
  const parsed = parseClientFrame(text);
  if (!parsed.ok) {
    ctx.metrics.framesReceived.inc({ type: "invalid" });
    connection.error(parsed.id, parsed.code, parsed.message, parsed.field === undefined ? {} : { field: parsed.field });
    if (connection.strike()) connection.events.releaseInitial();
    return;
  }
  const frame = parsed.frame;
  ctx.metrics.framesReceived.inc({ type: frame.type });
  if (frame.type === "ping") {
    void runCommand(ctx, connection, frame);
    connection.events.releaseInitial();
    return;
  }
  const queued = connection.enqueue(async () => {
    try {
      if (!connection.isClosing()) await runCommand(ctx, connection, frame);
    } catch (error) {
      // Redis or the network failed mid-command: the client still gets an answer, and may retry.
      ctx.logger.error({ err: error, type: frame.type, connection: connection.id }, "command failed");
      connection.error(frame.id, "unavailable");
    } finally {
      // The first command had its chance to `resume`: live events flow from here.
      connection.events.releaseInitial();
    }
  });
  if (!queued) {
    connection.error(frame.id, "rate_limited", "Too many commands waiting; wait for answers.", { retry_after_ms: 1000 });
    connection.strike();
  }
}

/** The text of a frame, or undefined for a binary one. */
export function frameText(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): string | undefined {
  if (isBinary) return undefined;
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
