import { updateMeBody } from "@parley/protocol";
import { Router } from "express";
import type { AccountService } from "../../services/account-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";

export function meRouter(accounts: AccountService): Router {
  const router = Router();
  router.get("/users/me", async (_req, res) => {
    res.json(await accounts.me(actorOf(res)));
  });
  router.patch("/users/me", async (req, res) => {
    res.json(await accounts.updateMe(actorOf(res), parse(updateMeBody, req.body)));
  });
  return router;
}
