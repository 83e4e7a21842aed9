import { updateMeBody } from "@parley/protocol";
import { Router } from "express";
import type { AccountService } from "../../services/account-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function meRouter(accounts: AccountService): Router {
  const router = Router();
  serve(router, "getMe", async (_req, res) => {
    res.json(await accounts.me(actorOf(res)));
  });
  serve(router, "updateMe", async (req, res) => {
    res.json(await accounts.updateMe(actorOf(res), parse(updateMeBody, req.body)));
  });
  return router;
}
