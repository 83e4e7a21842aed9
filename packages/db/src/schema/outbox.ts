import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { timestamptz } from "./columns";

/** Events committed with the change that caused them, published to Redis afterwards (at least once). */
export const outbox = pgTable(
  "outbox",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    publishedAt: timestamptz("published_at"),
    /** User ids the event is for. */
    recipients: text("recipients").array().notNull(),
    /** The event as published, without its stream position (assigned on publish). */
    event: jsonb("event").$type<Record<string, unknown>>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    /**
     * The conversation the event is about: a send publishing its own events from memory first checks that no
     * other writer's event of its conversations is still unpublished (see docs/ARCHITECTURE.md, "Outbox relay").
     */
    conversationId: uuid("conversation_id"),
    /**
     * The recipients' new unread counters that ride along with a `new_message` (`[{u: user id, n: unread, t: total}]`):
     * published as each one's own `unread_count` event right after it, in the same script call, so a message costs one
     * outbox row and one publish call whatever its audience (docs/ARCHITECTURE.md, "Publish format"). Null otherwise.
     */
    unread: jsonb("unread").$type<{ u: string; n: number; t: number }[]>(),
  },
  (table) => [
    index("outbox_unpublished_idx").on(table.id).where(sql`${table.publishedAt} IS NULL`),
    index("outbox_unpublished_conversation_idx").on(table.conversationId).where(sql`${table.publishedAt} IS NULL`),
  ],
);
