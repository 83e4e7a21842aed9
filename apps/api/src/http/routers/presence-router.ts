import { presenceQuery } from "@parley/protocol";
import { Router } from "express";
import type { PresenceService } from "../../services/presence-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function presenceRouter(presence: PresenceService): Router {
  const router = Router();
  serve(router, "getPresence", async (req, res) => {
    const { user_ids } = parse(presenceQuery, req.query);
    // The one list shape of the contract; presence is never paged, so next_cursor is always null.
    res.json({ items: await presence.presence(actorOf(res), user_ids), next_cursor: null });
  });
  serve(router, "getStats", async (_req, res) => {
    res.json(await presence.stats(actorOf(res)));
  });
  return router;
}
