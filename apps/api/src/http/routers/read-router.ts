import { readBody } from "@parley/protocol";
import { Router } from "express";
import type { ReadService } from "../../services/read-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { conversationIdOrNotFound } from "../path-params";
import { serve } from "../serve";

export function readRouter(reads: ReadService): Router {
  const router = Router();
  serve(router, "markRead", async (req, res) => {
    res.json(await reads.markRead(actorOf(res), conversationIdOrNotFound(req.params.id), parse(readBody, req.body).up_to_seq));
  });
  serve(router, "getUnread", async (_req, res) => {
    res.json(await reads.summary(actorOf(res)));
  });
  return router;
}
