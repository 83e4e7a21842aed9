import type { Response } from "express";
import { Router } from "express";
import { once } from "node:events";
import type { AuditService } from "../../services/audit-service";
import type { DataSubjectService } from "../../services/data-subject-service";
import { actorOf } from "../authenticate";
import { serve } from "../serve";

/** A client that goes away mid-download never drains: the export stops then rather than wait for ever. */
async function drainedOrClosed(res: Response): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(res, "drain", { signal: done.signal }), once(res, "close", { signal: done.signal })]);
  } finally {
    done.abort();
  }
}

/** Writes the export piece by piece, waiting for the socket to drain: memory stays one page however big it is. */
async function streamExport(res: Response, userId: string, chunks: AsyncIterable<string>): Promise<void> {
  res.status(200);
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.setHeader("content-disposition", `attachment; filename="parley-export-${encodeURIComponent(userId)}.json"`);
  res.setHeader("cache-control", "no-store");
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    res.end();
  } catch (error) {
    // The status line is gone: a truncated body (and a reset connection) is the only honest signal left.
    res.destroy(error as Error);
  }
}

/** GDPR art. 15/20 (export) and art. 17 (erasure), for oneself and, for admins, anyone. */
export function dataSubjectRouter(subjects: DataSubjectService, audit: AuditService): Router {
  const router = Router();
  serve(router, "exportMe", async (_req, res) => {
    const user = await subjects.subjectOf(actorOf(res), undefined);
    await streamExport(res, user.id, subjects.exportChunks(user));
  });
  serve(router, "eraseMe", async (_req, res) => {
    await subjects.erase(await subjects.subjectOf(actorOf(res), undefined));
    res.status(204).end();
  });
  serve(router, "exportUser", async (req, res) => {
    const actor = actorOf(res);
    const user = await subjects.subjectOf(actor, req.params.id);
    // Reads are not audited, but reading someone else's whole account is.
    await audit.record(actor, { action: "GET /v1/admin/users/:id/export", targetType: "user", targetId: user.id });
    await streamExport(res, user.id, subjects.exportChunks(user));
  });
  serve(router, "eraseUser", async (req, res) => {
    await subjects.erase(await subjects.subjectOf(actorOf(res), req.params.id));
    res.status(204).end();
  });
  return router;
}
