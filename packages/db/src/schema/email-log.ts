import { index, integer, pgTable, uuid } from "drizzle-orm/pg-core";
import { id, timestamptz, userId } from "./columns";
import { conversations } from "./conversations";
import { users } from "./users";

/** Audit of offline notification e-mails; participants.notified_seq is what prevents double mails. */
export const emailLog = pgTable(
  "email_log",
  {
    id: id(),
    userId: userId("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    fromSeq: integer("from_seq").notNull(),
    toSeq: integer("to_seq").notNull(),
    sentAt: timestamptz("sent_at").notNull().defaultNow(),
  },
  (table) => [index("email_log_user_conversation_idx").on(table.userId, table.conversationId)],
);
