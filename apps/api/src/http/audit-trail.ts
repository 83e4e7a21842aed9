import type { Logger } from "@parley/observability";
import type { RequestHandler } from "express";
import type { AuditService } from "../services/audit-service";
import { actorOf } from "./authenticate";

/** Route parameters that name what an action was done to, most specific first. */
const TARGET_PARAMS = [
  ["user_id", "user"],
  ["id", "resource"],
] as const;

/**
 * Records every successful change made by a moderator, an admin or a service token (who, what, when, target) once
 * the response is sent. Reads are not recorded. Runs behind authentication, so the actor is known.
 */
export function auditTrail(audit: AuditService, logger: Logger): RequestHandler {
  return (req, res, next) => {
    if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") {
      next();
      return;
    }
    const actor = actorOf(res);
    if (!audit.audits(actor)) {
      next();
      return;
    }
    res.once("finish", () => {
      if (res.statusCode >= 400) return;
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route === undefined) return;
      const params = req.params as Record<string, string | undefined>;
      const target = TARGET_PARAMS.find(([name]) => params[name] !== undefined);
      const body = req.body as Record<string, unknown> | undefined;
      // The target of a body-only action (relationships): the users it links.
      const bodyTarget = typeof body?.user_id === "string" ? body.user_id : undefined;
      const kind = target ? (route.startsWith("/users") || route.startsWith("/admin/users") ? "user" : route.split("/")[1]) : bodyTarget ? "user" : undefined;
      audit
        .record(actor, {
          action: `${req.method} /v1${route}`,
          targetType: kind,
          targetId: target ? params[target[0]] : bodyTarget,
          details: { status: res.statusCode, params, ...(body && typeof body === "object" ? { body: redactBody(body) } : {}) },
        })
        .catch((error: unknown) => logger.error({ err: error }, "audit record failed"));
    });
    next();
  };
}

/** Bodies are kept for the record, without secrets or message content. */
function redactBody(body: Record<string, unknown>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "password" || key === "content" || key === "token" || key === "email") continue;
    kept[key] = value;
  }
  return kept;
}
