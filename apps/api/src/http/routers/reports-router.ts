import { reportBody, reportListQuery, resolveReportBody } from "@parley/protocol";
import { Router } from "express";
import type { ReportService } from "../../services/report-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function reportsRouter(reports: ReportService): Router {
  const router = Router();
  serve(router, "createReport", async (req, res) => {
    res.status(201).json(await reports.create(actorOf(res), parse(reportBody, req.body)));
  });
  serve(router, "listReports", async (req, res) => {
    const actor = actorOf(res);
    reports.assertModerator(actor);
    res.json(await reports.list(actor, parse(reportListQuery, req.query)));
  });
  serve(router, "getReport", async (req, res) => {
    res.json(await reports.get(actorOf(res), req.params.id));
  });
  serve(router, "resolveReport", async (req, res) => {
    const actor = actorOf(res);
    reports.assertModerator(actor);
    res.json(await reports.resolve(actor, req.params.id, parse(resolveReportBody, req.body)));
  });
  return router;
}
