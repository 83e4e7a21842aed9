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

/** Each client frame type with its frame. */
type FrameOf = { [F in ClientFrame as F["type"]]: F };

/** One handler per client frame type: the table is exhaustive, so a frame type without a command does not compile. */
type Commands = { [T in keyof FrameOf]: (ctx: CommandContext, connection: Connection, frame: FrameOf[T]) => Promise<void> | void };

const COMMANDS: Commands = {
  ping: (_ctx, connection, frame) => {
    connection.send({ type: "pong", ...(frame.id === undefined ? {} : { id: frame.id }) });
  },
  auth: reauthenticate,
  send_message: sendMessage,
  edit_message: editMessage,
  delete_message: deleteMessage,
  mark_read: markRead,
  mark_delivered: markDelivered,
  typing_start: typing,
  typing_stop: typing,
  subscribe,
  unsubscribe,
  resume,
  set_status: setStatus,
  watch_presence: watchPresence,
};

/** Runs one parsed command of an open socket; every command is answered (`ack`/`error`, `pong` for ping). */
export async function runCommand<T extends keyof FrameOf>(ctx: CommandContext, connection: Connection, frame: FrameOf[T] & { type: T }): Promise<void> {
  const command: Commands[T] = COMMANDS[frame.type];
  await command(ctx, connection, frame);
}
