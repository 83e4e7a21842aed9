import * as protocol from "@parley/protocol";
import { z } from "zod";

/** AsyncAPI payloads are JSON Schema draft-07 (the AsyncAPI Schema format's base). */
function payload(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

const CLIENT_SUMMARIES: Readonly<Record<protocol.ClientFrameType, string>> = {
  auth: "Authenticate (first frame without a handshake token) or refresh the token of an open socket",
  ping: "Liveness check, answered with pong",
  send_message: "Send a message (idempotent by client_msg_id)",
  edit_message: "Edit one's own message",
  delete_message: "Delete a message (leaves a tombstone)",
  mark_read: "Move the read mark forward",
  mark_delivered: "Acknowledge receipt up to a seq (delivered state)",
  typing_start: "Start typing (expires by itself after 5 s)",
  typing_stop: "Stop typing",
  subscribe: "Open a conversation: typing signals, and replay after since_seq",
  unsubscribe: "Close a conversation",
  set_status: "Set one's presence status",
  watch_presence: "Replace the list of users whose presence this socket watches",
  resume: "Replay everything missed after a stream position, then go live",
};

const SERVER_SUMMARIES: Readonly<Record<protocol.ServerFrameType, string>> = {
  connected: "The socket is authenticated; pos is the user's current stream position",
  pong: "The answer to ping",
  ack: "A command succeeded; data depends on the command",
  error: "A command failed, or a frame was invalid",
  reconnect: "The edge is draining: reconnect to any edge after after_ms",
  typing: "Someone is typing (ephemeral)",
  presence: "A watched user's presence changed (ephemeral)",
  new_message: "A new message in one of the user's conversations",
  message_updated: "A message was edited",
  message_deleted: "A message was deleted",
  messages_read: "A participant's read mark moved (read receipt)",
  messages_delivered: "Another participant's devices acknowledged receipt up to a seq",
  unread_count: "The user's unread count of a conversation changed",
  conversation_updated: "A conversation was created, changed membership or settings, archived or restored",
};

const channelRef = { $ref: "#/channels/socket" };
const messageRef = (name: string) => ({ $ref: `#/channels/socket/messages/${name}` });

/**
 * The AsyncAPI 3 document of the WebSocket protocol, from the same zod schemas the edge parses with and writes: one
 * channel (the socket), a `receive` operation per client command (with its ack as the reply), a `send` operation per
 * server frame. Written from the edge's point of view.
 */
export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};

  for (const [type, schema] of Object.entries(protocol.clientFrameSchemas) as [protocol.ClientFrameType, z.ZodType][]) {
    messages[type] = { name: type, title: type, summary: CLIENT_SUMMARIES[type], payload: payload(schema, "input") };
  }
  for (const frame of protocol.serverFrame.options) {
    const type = frame.shape.type.value;
    messages[`server_${type}`] = { name: type, title: type, summary: SERVER_SUMMARIES[type], payload: payload(frame, "output") };
  }
  for (const [type, data] of Object.entries(protocol.ackDataSchemas) as [protocol.AckedCommandType, z.ZodType][]) {
    const ack = protocol.ackFrame.extend({ data });
    messages[`ack_${type}`] = { name: "ack", title: `ack of ${type}`, summary: `The answer to ${type}`, payload: payload(ack, "output") };
  }

  for (const type of Object.keys(protocol.clientFrameSchemas) as protocol.ClientFrameType[]) {
    const answers = type === "ping" ? [messageRef("server_pong")] : [messageRef(`ack_${type}`), messageRef("server_error")];
    operations[`receive_${type}`] = {
      action: "receive",
      channel: channelRef,
      summary: CLIENT_SUMMARIES[type],
      messages: [messageRef(type)],
      reply: { channel: channelRef, messages: answers },
    };
  }
  for (const frame of protocol.serverFrame.options) {
    const type = frame.shape.type.value;
    if (type === "ack" || type === "pong") continue; // replies of the commands above
    operations[`send_${type}`] = { action: "send", channel: channelRef, summary: SERVER_SUMMARIES[type], messages: [messageRef(`server_${type}`)] };
  }

  return {
    asyncapi: "3.1.0",
    info: {
      title: "Parley WebSocket protocol",
      version: "1.0.0",
      description:
        "Frames between clients and Parley edge nodes at /v1/ws: one JSON object per frame with a `type`. Commands may carry an `id` that their `ack`/`error` echoes. Event frames carry `pos` (the user's stream position) for `resume`. Close codes and delivery guarantees: docs/PROTOCOL.md.",
      license: { name: "MIT", url: "https://opensource.org/license/mit" },
    },
    servers: {
      edge: {
        host: "localhost:3001",
        protocol: "ws",
        pathname: "/v1/ws",
        description: "Any edge node (behind a load balancer in production: wss)",
        security: [{ $ref: "#/components/securitySchemes/bearer" }],
      },
    },
    defaultContentType: "application/json",
    channels: {
      socket: {
        address: "/v1/ws",
        title: "The WebSocket of one client",
        messages,
      },
    },
    operations,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "Authorization header at the handshake, ?access_token=, or a first auth frame within 5 s",
        },
      },
    },
  };
}
