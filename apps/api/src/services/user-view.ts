import type { Me, PublicUser } from "@parley/protocol";
import type { UserRow } from "../repositories/user-repository";

export function toPublicUser(row: UserRow): PublicUser {
  return { id: row.id, username: row.username, display_name: row.displayName, role: row.role };
}

export function toMe(row: UserRow): Me {
  return {
    ...toPublicUser(row),
    email: row.email,
    email_notifications: row.emailNotifications,
    email_confirmed: row.email !== null && row.emailConfirmedAt !== null,
    created_at: row.createdAt.toISOString(),
  };
}
