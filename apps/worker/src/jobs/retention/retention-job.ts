import { RETENTION_JOB_NAME, RETENTION_SCHEDULER_ID, retentionJobData } from "@parley/bus";
import { UnrecoverableError, type Job, type Queue } from "bullmq";
import type { Clock } from "@parley/config";
import type { PurgeRunResult, Purger } from "./purger";

/** The BullMQ processor of the retention queue: one purge at the worker's (injectable) time. */
export function retentionProcessor(purger: Purger, clock: Clock): (job: Job) => Promise<PurgeRunResult> {
  return async (job) => {
    if (!retentionJobData.safeParse(job.data).success) throw new UnrecoverableError("invalid retention job data");
    return purger.run(clock.now());
  };
}

/** Creates or updates the RETENTION_CRON schedule (one per fleet: the scheduler id is fixed); removes it when retention is off. */
export async function scheduleRetention(queue: Queue, cron: string, enabled: boolean): Promise<void> {
  if (!enabled) {
    await queue.removeJobScheduler(RETENTION_SCHEDULER_ID);
    return;
  }
  await queue.upsertJobScheduler(
    RETENTION_SCHEDULER_ID,
    { pattern: cron, tz: "UTC" },
    {
      name: RETENTION_JOB_NAME,
      data: {},
      opts: { attempts: 3, backoff: { type: "exponential", delay: 60_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } },
    },
  );
}
