ALTER TABLE "outbox" ADD COLUMN "conversation_id" uuid;--> statement-breakpoint
ALTER TABLE "participants" ADD COLUMN "unread_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "outbox_unpublished_conversation_idx" ON "outbox" USING btree ("conversation_id") WHERE "outbox"."published_at" IS NULL;--> statement-breakpoint
-- Backfill: the count the API used to compute on every read, over live and archived messages alike (archived messages now keep counting).
UPDATE "participants" p SET "unread_count" = (
  SELECT count(*)::int FROM (
    SELECT "seq", "sender_id", "deleted_at" FROM "messages" WHERE "conversation_id" = p."conversation_id"
    UNION ALL
    SELECT "seq", "sender_id", "deleted_at" FROM "archived_messages" WHERE "conversation_id" = p."conversation_id"
  ) m
  WHERE m."seq" > p."last_read_seq" AND m."deleted_at" IS NULL AND (m."sender_id" IS NULL OR m."sender_id" <> p."user_id"))
WHERE p."left_at" IS NULL;--> statement-breakpoint
-- Unpublished rows only: published ones are never read by conversation again.
UPDATE "outbox" SET "conversation_id" = coalesce("event"->>'conversation_id', "event"->'conversation'->>'id')::uuid WHERE "published_at" IS NULL;
