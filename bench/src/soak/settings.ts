import { z } from "zod";

const number = (fallback: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(fallback);

/** `pnpm test:soak` settings, from the environment (defaults: the 30-minute run). */
export const soakEnv = z.object({
  /** Length of the load phase. */
  SOAK_MINUTES: number(30, 0.5, 24 * 60),
  /** Samples before this are warm-up: caches fill, JIT settles, pools open; growth is measured after it. */
  SOAK_WARMUP_MINUTES: z.coerce.number().min(0).optional(),
  SOAK_USERS: number(40, 4, 2000),
  SOAK_GROUPS: number(8, 0, 500),
  SOAK_GROUP_SIZE: number(5, 2, 100),
  /** Messages a second, spread over the users (sent through each user's SDK outbox). */
  SOAK_RATE: number(10, 0.1, 1000),
  /** Client reconnects a minute: a random user's client is closed and a new one resumes from its storage. */
  SOAK_CHURN_PER_MINUTE: number(30, 0, 6000),
  SOAK_EDGES: number(2, 1, 8),
  SOAK_SAMPLE_SECONDS: number(10, 1, 600),
  /** Allowed growth after warm-up: the larger of this share of the post-warm-up baseline and the absolute MiB. */
  SOAK_GROWTH_RATIO: number(0.25, 0, 10),
  SOAK_RSS_GROWTH_MIB: number(48, 0, 100_000),
  SOAK_HEAP_GROWTH_MIB: number(24, 0, 100_000),
  SOAK_REDIS_GROWTH_MIB: number(16, 0, 100_000),
  /**
   * Redis keeps every delivered event for resume (per-user streams trimmed at about 10,000 entries, delivered markers
   * for a day), so it grows with the load until trimming starts: this many bytes per delivery are allowed on top.
   */
  SOAK_REDIS_BYTES_PER_DELIVERY: number(1024, 0, 1_000_000),
  /** The most unsent work allowed at any sample after warm-up: the API's outbox backlog and the clients' outboxes. */
  SOAK_MAX_BACKLOG: number(100, 0, 1_000_000),
  /** false: print the verdict only, leave docs/RELIABILITY.md and the chart alone. */
  SOAK_WRITE_DOCS: z
    .enum(["true", "false"])
    .default("true")
    .transform((text) => text === "true"),
});

export type SoakSettings = z.output<typeof soakEnv> & { readonly warmupMinutes: number };

export function readSoakSettings(env: NodeJS.ProcessEnv): SoakSettings {
  const parsed = soakEnv.parse(env);
  // Default warm-up: a third of a short run, five minutes of a long one.
  return { ...parsed, warmupMinutes: parsed.SOAK_WARMUP_MINUTES ?? Math.min(5, parsed.SOAK_MINUTES / 3) };
}
