import type { Logger } from "@parley/observability";
import { createOpsHandler, httpRequestDuration, logSerializers, type ReadinessCheck } from "@parley/observability";
import { ParleyError } from "@parley/protocol";
import cors from "cors";
import express, { type Express, type RequestHandler } from "express";
import { pinoHttp } from "pino-http";
import type { Registry } from "prom-client";
import { randomUUID } from "node:crypto";
import { authenticate } from "./http/authenticate";
import { errorHandler } from "./http/error-handler";
import { auditTrail } from "./http/audit-trail";
import { adminRouter } from "./http/routers/admin-router";
import { authRouter } from "./http/routers/auth-router";
import { blocksRouter } from "./http/routers/blocks-router";
import { conversationsRouter } from "./http/routers/conversations-router";
import { meRouter } from "./http/routers/me-router";
import { messagesRouter } from "./http/routers/messages-router";
import { presenceRouter } from "./http/routers/presence-router";
import { deliveryRouter } from "./http/routers/delivery-router";
import { readRouter } from "./http/routers/read-router";
import { relationshipsRouter } from "./http/routers/relationships-router";
import { dataSubjectRouter } from "./http/routers/data-subject-router";
import { reportsRouter } from "./http/routers/reports-router";
import { searchRouter } from "./http/routers/search-router";
import { usersRouter } from "./http/routers/users-router";
import { openApiRouter } from "./http/openapi";
import type { ApiServices } from "./services/api-services";

export interface AppOptions {
  readonly services: ApiServices;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly readiness: Record<string, ReadinessCheck>;
  readonly isDraining: () => boolean;
  readonly maxBodyBytes: number;
  /** Express's "trust proxy" setting. */
  readonly trustProxy: boolean | number | string;
  /** CORS allowlist for browser clients; empty allows every origin (bearer tokens, never cookies). */
  readonly allowedOrigins: readonly string[];
}

/** The Express app: ops endpoints, then /v1 routes behind authentication, then the one error mapping. */
export function createApp(options: AppOptions): Express {
  const { services, logger } = options;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", options.trustProxy);

  // Probes only: /metrics is served on the ops port (ApiNode.listenOps), never on the public one (a 404 here).
  const ops = createOpsHandler({ registry: options.registry, checks: options.readiness, isDraining: options.isDraining, metrics: false });
  app.use((req, res, next) => {
    if (!ops(req, res)) next();
  });

  app.use(
    pinoHttp({
      logger,
      serializers: logSerializers,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
        res.setHeader("x-request-id", id);
        return id;
      },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? "error" : res.statusCode >= 400 ? "info" : "debug"),
    }),
  );
  app.use(requestMetrics(options.registry));
  app.use(
    cors({
      origin: options.allowedOrigins.length === 0 ? true : [...options.allowedOrigins],
      methods: ["GET", "POST", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "x-request-id"],
      exposedHeaders: ["retry-after", "x-request-id"],
      maxAge: 600,
    }),
  );
  app.use(express.json({ limit: options.maxBodyBytes, strict: true }));
  app.use("/v1", async (req, _res, next) => {
    // Per-address limit before anything costly; the per-user limit is counted once the caller is known.
    await services.limits.consumeIpRequest(req.ip ?? "unknown");
    next();
  });

  app.use("/v1", openApiRouter());
  app.use("/v1", authRouter(services.accounts, services.confirmations));
  const authenticated = express.Router();
  authenticated.use(authenticate(services.accounts, services.limits));
  authenticated.use(auditTrail(services.audit, logger));
  authenticated.use(meRouter(services.accounts));
  authenticated.use(dataSubjectRouter(services.dataSubjects, services.audit));
  // Each feature's router is mounted here, one line each.
  authenticated.use(usersRouter(services.users));
  authenticated.use(blocksRouter(services.blocks));
  authenticated.use(adminRouter(services.admin, services.audit));
  authenticated.use(reportsRouter(services.reports));
  authenticated.use(conversationsRouter(services.conversations, services.membership));
  authenticated.use(relationshipsRouter(services.relationships));
  authenticated.use(presenceRouter(services.presence));
  authenticated.use(messagesRouter(services.messages, services.restore));
  authenticated.use(readRouter(services.reads));
  authenticated.use(deliveryRouter(services.deliveries));
  authenticated.use(searchRouter(services.search));
  app.use("/v1", authenticated);

  app.use((_req, _res, next) => {
    next(new ParleyError("not_found", "No such endpoint."));
  });
  app.use(errorHandler(logger));
  return app;
}

function requestMetrics(registry: Registry): RequestHandler {
  const histogram = httpRequestDuration(registry);
  return (req, res, next) => {
    const end = histogram.startTimer({ method: req.method });
    res.once("finish", () => {
      // The route pattern, never the raw path: ids would explode the label set.
      const route = (req.route as { path?: string } | undefined)?.path;
      end({ route: route === undefined ? "unmatched" : `${req.baseUrl}${route}`, status_code: String(res.statusCode) });
    });
    next();
  };
}
