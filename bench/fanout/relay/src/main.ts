/**
 * The bare relay for bench/fanout: the practical limit of "WebSocket + Redis pub/sub" with nothing else — no auth,
 * no persistence, no acks. A client connects to `/?room=<id>`; every frame it sends is published, as is, to the
 * room's channel; every node delivers what arrives there to its own sockets in the room (the sender's included).
 *
 *   PORT REDIS_URL REDIS_KEY_PREFIX  node --import tsx src/main.ts
 */
import { Redis } from "ioredis";
import http from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import { z } from "zod";

const env = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535),
    REDIS_URL: z.url(),
    REDIS_KEY_PREFIX: z.string().default(""),
  })
  .parse(process.env);

const roomName = z.string().regex(/^[\w-]{1,100}$/);
const pub = new Redis(env.REDIS_URL);
const sub = pub.duplicate();
const channelPrefix = `${env.REDIS_KEY_PREFIX}relay:`;
const rooms = new Map<string, Set<WebSocket>>();

const server = http.createServer((request, response) => {
  response.statusCode = request.url === "/readyz" ? 200 : 404;
  response.end();
});
const wss = new WebSocketServer({ server, maxPayload: 4096, perMessageDeflate: false });

sub.on("messageBuffer", (channel: Buffer, message: Buffer) => {
  const members = rooms.get(channel.toString("utf8").slice(channelPrefix.length));
  if (!members) return;
  for (const socket of members) socket.send(message, { binary: false });
});

wss.on("connection", (socket, request) => {
  const parsed = roomName.safeParse(new URL(request.url ?? "/", "http://relay").searchParams.get("room"));
  if (!parsed.success) {
    socket.close(1008, "room");
    return;
  }
  const room = parsed.data;
  const channel = channelPrefix + room;
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
    void sub.subscribe(channel);
  }
  members.add(socket);
  socket.on("message", (data: Buffer) => {
    void pub.publish(channel, data);
  });
  socket.on("close", () => {
    const current = rooms.get(room);
    current?.delete(socket);
    if (current?.size === 0) {
      rooms.delete(room);
      void sub.unsubscribe(channel);
    }
  });
});

server.listen(env.PORT, "127.0.0.1");

let closing = false;
process.once("SIGTERM", () => {
  if (closing) return;
  closing = true;
  for (const socket of wss.clients) socket.terminate();
  wss.close();
  server.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
