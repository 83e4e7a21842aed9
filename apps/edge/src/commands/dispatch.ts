import type { EdgeConfig } from "@parley/config";
import type { ClientFrame } from "@parley/protocol";
import type { Connection } from "../connection";
import type { EdgeContext } from "../context";
import { markDelivered } from "./delivery-commands";
import { deleteMessage, editMessage, markRead, sendMessage } from "./message-commands";
import { setStatus, watchPresence } from "./presence-commands";
import { reauthenticate } from "./session-commands";
import { resume, subscribe, unsubscribe } from "./subscription-commands";
import { typing } from "./typing-commands";

/** What the commands use together: each command takes only its own part of it. */
export type CommandContext = Pick<EdgeContext, "api" | "blocks" | "clock" | "logger" | "membership" | "metrics" | "presence" | "redis" | "registry" | "typing" | "verifier" | "watchers"> & {
  readonly config: Pick<EdgeConfig, "JWT_CLOCK_TOLERANCE" | "REDIS_KEY_PREFIX">;
};

/** Runs one parsed command of an open socket; every command is answered (`ack`/`error`, `pong` for ping). */
export async function runCommand(ctx: CommandContext, connection: Connection, frame: ClientFrame): Promise<void> {
  switch (frame.type) {
    case "ping":
      connection.send({ type: "pong", ...(frame.id === undefined ? {} : { id: frame.id }) });
      return;
    case "auth":
      return reauthenticate(ctx, connection, frame);
    case "send_message":
      return sendMessage(ctx, connection, frame);
    case "edit_message":
      return editMessage(ctx, connection, frame);
    case "delete_message":
      return deleteMessage(ctx, connection, frame);
    case "mark_read":
      return markRead(ctx, connection, frame);
    case "mark_delivered":
      return markDelivered(ctx, connection, frame);
    case "typing_start":
    case "typing_stop":
      return typing(ctx, connection, frame);
    case "subscribe":
      return subscribe(ctx, connection, frame);
    case "unsubscribe":
      return unsubscribe(ctx, connection, frame);
    case "resume":
      return resume(ctx, connection, frame);
    case "set_status":
      return setStatus(ctx, connection, frame);
    case "watch_presence":
      return watchPresence(ctx, connection, frame);
  }
}
