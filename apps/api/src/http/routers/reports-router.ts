import { reportBody, reportListQuery, resolveReportBody } from "@parley/protocol";
import { Router } from "express";
import type { ReportService } from "../../services/report-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";

export function reportsRouter(reports: ReportService): Router {
  const router = Router();
  router.post("/reports", async (req, res) => {
    res.status(201).json(await reports.create(actorOf(res), parse(reportBody, req.body)));
  });
  router.get("/reports", async (req, res) => {
    const actor = actorOf(res);
    reports.assertModerator(actor);
    res.json(await reports.list(actor, parse(reportListQuery, req.query)));
  });
  router.get("/reports/:id", async (req, res) => {
    res.json(await reports.get(actorOf(res), req.params.id));
  });
  router.post("/reports/:id/resolve", async (req, res) => {
    const actor = actorOf(res);
    reports.assertModerator(actor);
    res.json(await reports.resolve(actor, req.params.id, parse(resolveReportBody, req.body)));
  });
  return router;
}
