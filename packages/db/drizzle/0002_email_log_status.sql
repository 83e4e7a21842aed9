ALTER TABLE "email_log" ALTER COLUMN "sent_at" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "email_log" ALTER COLUMN "sent_at" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "email_log" ADD COLUMN "status" text DEFAULT 'claimed' NOT NULL;--> statement-breakpoint
ALTER TABLE "email_log" ADD COLUMN "claimed_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "email_log" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "email_log" ADD COLUMN "last_error" text;--> statement-breakpoint
-- Rows written before this migration are e-mails already recorded as sent; sent_at held their claim time. attempts stays 0 (not recorded then).
UPDATE "email_log" SET "status" = 'sent', "claimed_at" = "sent_at";--> statement-breakpoint
CREATE INDEX "email_log_claimed_idx" ON "email_log" USING btree ("claimed_at") WHERE "email_log"."status" = 'claimed';--> statement-breakpoint
ALTER TABLE "email_log" ADD CONSTRAINT "email_log_status_check" CHECK ("email_log"."status" IN ('claimed', 'sent', 'released'));