import { loginBody, registerBody } from "@parley/protocol";
import { Router } from "express";
import type { AccountService } from "../../services/account-service";
import { actorOf, authenticate } from "../authenticate";
import { parse } from "../parse";

export function authRouter(accounts: AccountService): Router {
  const router = Router();
  router.post("/auth/register", async (req, res) => {
    res.status(201).json(await accounts.register(parse(registerBody, req.body), req.ip ?? "unknown"));
  });
  router.post("/auth/login", async (req, res) => {
    res.json(await accounts.login(parse(loginBody, req.body), req.ip ?? "unknown"));
  });
  router.post("/auth/logout", authenticate(accounts), async (_req, res) => {
    await accounts.logout(actorOf(res));
    res.status(204).end();
  });
  return router;
}
