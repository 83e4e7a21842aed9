/**
 * The reference for bench/fanout: what teams hand-build instead of Parley. Socket.IO 4 with the Redis adapter, a
 * JWT (HS256) checked once per connection, the user's rooms read from PostgreSQL at connect, and one INSERT per
 * message before it is broadcast to the room. Run two of these (same Redis, same database) for a two-node cluster.
 *
 *   PORT DATABASE_URL REDIS_URL REDIS_KEY_PREFIX JWT_SECRET  node --import tsx src/main.ts
 */
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { jwtVerify } from "jose";
import http from "node:http";
import postgres from "postgres";
import { Server } from "socket.io";
import { z } from "zod";

const env = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535),
    DATABASE_URL: z.url(),
    REDIS_URL: z.url(),
    REDIS_KEY_PREFIX: z.string().default(""),
    JWT_SECRET: z.string().min(32),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).default(10),
  })
  .parse(process.env);

const sendPayload = z.object({ room: z.string().min(1).max(100), content: z.string().min(1).max(4000) });
const handshakeAuth = z.object({ token: z.string().min(1) });
type Ack = (answer: { ok: true; id: string } | { ok: false; error: string }) => void;

const secret = new TextEncoder().encode(env.JWT_SECRET);
const sql = postgres(env.DATABASE_URL, { max: env.DATABASE_POOL_SIZE, onnotice: () => undefined });
const pub = new Redis(env.REDIS_URL);
const sub = pub.duplicate();

let ready = false;
const server = http.createServer((request, response) => {
  response.statusCode = request.url === "/readyz" && ready ? 200 : request.url === "/readyz" ? 503 : 404;
  response.end();
});
const io = new Server(server, {
  transports: ["websocket"],
  serveClient: false,
  adapter: createAdapter(pub, sub, { key: `${env.REDIS_KEY_PREFIX}socket.io` }),
});

// Authentication and the user's rooms, before the connection is accepted: a client that sees `connect` is in its rooms.
io.use(async (socket, next) => {
  const auth = handshakeAuth.safeParse(socket.handshake.auth);
  if (!auth.success) {
    next(new Error("unauthorized"));
    return;
  }
  try {
    const { payload } = await jwtVerify(auth.data.token, secret, { algorithms: ["HS256"], requiredClaims: ["sub", "exp"] });
    const userId = payload.sub ?? "";
    const rows = await sql<{ conversation_id: string }[]>`SELECT conversation_id FROM ref_members WHERE user_id = ${userId}`;
    socket.data = { userId, rooms: rows.map((row) => row.conversation_id) };
    next();
  } catch {
    next(new Error("unauthorized"));
  }
});

const socketData = z.object({ userId: z.string(), rooms: z.array(z.string()) });

io.on("connection", (socket) => {
  const data = socketData.parse(socket.data);
  void socket.join(data.rooms);
  socket.on("send", async (payload: unknown, ack: unknown) => {
    const answer: Ack = typeof ack === "function" ? (ack as Ack) : () => undefined;
    const parsed = sendPayload.safeParse(payload);
    if (!parsed.success) {
      answer({ ok: false, error: "invalid_request" });
      return;
    }
    const { room, content } = parsed.data;
    if (!socket.rooms.has(room)) {
      answer({ ok: false, error: "forbidden" });
      return;
    }
    try {
      const [row] = await sql<{ id: string; created_at: Date }[]>`
        INSERT INTO ref_messages (conversation_id, sender_id, content) VALUES (${room}, ${data.userId}, ${content})
        RETURNING id, created_at`;
      if (!row) throw new Error("no row");
      io.to(room).emit("message", { id: row.id, conversation_id: room, sender_id: data.userId, content, created_at: row.created_at.toISOString() });
      answer({ ok: true, id: row.id });
    } catch {
      answer({ ok: false, error: "unavailable" });
    }
  });
});

server.listen(env.PORT, "127.0.0.1", () => {
  void sql`SELECT 1`.then(() => {
    ready = true;
  });
});

let closing: Promise<void> | undefined;
function close(): Promise<void> {
  closing ??= (async () => {
    ready = false;
    await io.close();
    await sql.end({ timeout: 5 });
    pub.disconnect();
    sub.disconnect();
  })();
  return closing;
}
process.once("SIGTERM", () => {
  void close().then(() => process.exit(0));
});
