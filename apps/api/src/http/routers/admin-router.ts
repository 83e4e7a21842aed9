import { auditQuery, changeRoleBody, provisionUserBody, suspendBody } from "@parley/protocol";
import { Router } from "express";
import type { AdminService } from "../../services/admin-service";
import type { AuditService } from "../../services/audit-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

/** /v1/admin: accounts (provisioning, roles, suspension) and the audit log. */
export function adminRouter(admin: AdminService, audit: AuditService): Router {
  const router = Router();
  serve(router, "provisionUser", async (req, res) => {
    const actor = actorOf(res);
    admin.assertAdmin(actor);
    res.status(201).json(await admin.provision(actor, parse(provisionUserBody, req.body)));
  });
  serve(router, "changeUserRole", async (req, res) => {
    const actor = actorOf(res);
    admin.assertAdmin(actor);
    res.json(await admin.changeRole(actor, req.params.id, parse(changeRoleBody, req.body)));
  });
  serve(router, "suspendUser", async (req, res) => {
    const actor = actorOf(res);
    admin.assertModerator(actor);
    parse(suspendBody, req.body);
    await admin.suspend(actor, req.params.id);
    res.status(204).end();
  });
  serve(router, "reinstateUser", async (req, res) => {
    const actor = actorOf(res);
    admin.assertModerator(actor);
    await admin.reinstate(actor, req.params.id);
    res.status(204).end();
  });
  serve(router, "listAudit", async (req, res) => {
    res.json(await audit.list(actorOf(res), parse(auditQuery, req.query)));
  });
  return router;
}
