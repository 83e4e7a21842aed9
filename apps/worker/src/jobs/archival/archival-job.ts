import { ARCHIVAL_JOB_NAME, ARCHIVAL_SCHEDULER_ID, archivalJobData } from "@parley/bus";
import { UnrecoverableError, type Job, type Queue } from "bullmq";
import type { Clock } from "@parley/config";
import type { Archiver, ArchiveRunResult } from "./archiver";

/** The BullMQ processor of the archival queue: one archiver run at the worker's (injectable) time. */
export function archivalProcessor(archiver: Archiver, clock: Clock): (job: Job) => Promise<ArchiveRunResult> {
  return async (job) => {
    if (!archivalJobData.safeParse(job.data).success) throw new UnrecoverableError("invalid archival job data");
    return archiver.run(clock.now());
  };
}

/**
 * Creates or updates the cron schedule of archival. Every worker calls it at start: the scheduler id is fixed,
 * so a fleet has one schedule, and a changed ARCHIVE_CRON replaces the old pattern.
 */
export async function scheduleArchival(queue: Queue, cron: string): Promise<void> {
  await queue.upsertJobScheduler(
    ARCHIVAL_SCHEDULER_ID,
    { pattern: cron, tz: "UTC" },
    {
      name: ARCHIVAL_JOB_NAME,
      data: {},
      opts: {
        // A run interrupted by an error is retried soon; the next scheduled run also finishes its leftovers.
        attempts: 3,
        backoff: { type: "exponential", delay: 60_000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    },
  );
}
