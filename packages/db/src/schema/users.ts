import { sql } from "drizzle-orm";
import { boolean, check, index, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { timestamptz, userId, userPk } from "./columns";

export const users = pgTable(
  "users",
  {
    id: userPk(),
    /** Stored lowercased so uniqueness is case-insensitive; `display_name` keeps the user's spelling. */
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    /** Null for users provisioned from an external identity provider: they never log in with a password. */
    passwordHash: text("password_hash"),
    role: text("role").notNull(),
    email: text("email"),
    emailNotifications: boolean("email_notifications").notNull().default(true),
    external: boolean("external").notNull().default(false),
    /** When the current `email` was confirmed (link or identity provider's email_verified); null while unconfirmed. */
    emailConfirmedAt: timestamptz("email_confirmed_at"),
    /** Set while an admin or moderator has suspended the account: its tokens are refused everywhere. */
    suspendedAt: timestamptz("suspended_at"),
    /** Set once the account was erased (GDPR art. 17): the row stays, anonymised, so messages keep a sender. */
    erasedAt: timestamptz("erased_at"),
    /** What user search matches against, with a trigram index. */
    searchText: text("search_text").generatedAlwaysAs(sql`lower(username || ' ' || display_name)`),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at")
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (table) => [
    uniqueIndex("users_username_key").on(table.username),
    index("users_search_text_trgm_idx").using("gin", table.searchText.op("gin_trgm_ops")),
    check("users_username_lowercase", sql`${table.username} = lower(${table.username})`),
  ],
);

/** A column naming a user the row belongs to: required, and the row goes when the user row is deleted. */
export const ownedByUser = (name: string) =>
  userId(name)
    .notNull()
    .references(() => users.id, { onDelete: "cascade" });
