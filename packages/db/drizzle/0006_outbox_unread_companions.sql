ALTER TABLE "outbox" ADD COLUMN "unread" jsonb;--> statement-breakpoint
-- Every send updates its conversation's participants' counters (unread_count, last_read_seq: no index on either).
-- Room on each page keeps those updates HOT (no new index entries), so the participant indexes do not bloat.
ALTER TABLE "participants" SET (fillfactor = 80);
