import { index, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { timestamptz, userId } from "./columns";

/**
 * Links the talk policy may require (patient-doctor, match, client-salon). No foreign keys on the users:
 * integrations may link users an external identity provider has not provisioned here yet.
 */
export const relationships = pgTable(
  "relationships",
  {
    userId: userId("user_id").notNull(),
    otherUserId: userId("other_user_id").notNull(),
    kind: text("kind").notNull(),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    createdBy: userId("created_by"),
  },
  (table) => [
    primaryKey({ name: "relationships_pkey", columns: [table.userId, table.otherUserId, table.kind] }),
    index("relationships_other_user_kind_idx").on(table.otherUserId, table.kind),
  ],
);
