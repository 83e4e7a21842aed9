import { confirmEmailBody, loginBody, registerBody } from "@parley/protocol";
import { Router } from "express";
import type { AccountService } from "../../services/account-service";
import type { EmailConfirmationService } from "../../services/email-confirmation-service";
import { actorOf, authenticate } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function authRouter(accounts: AccountService, confirmations: EmailConfirmationService): Router {
  const router = Router();
  serve(router, "register", async (req, res) => {
    res.status(201).json(await accounts.register(parse(registerBody, req.body), req.ip ?? "unknown"));
  });
  serve(router, "login", async (req, res) => {
    res.json(await accounts.login(parse(loginBody, req.body), req.ip ?? "unknown"));
  });
  // No bearer token: the token in the mailed link is the credential (PUBLIC_APP_URL/confirm-email?token=...).
  serve(router, "confirmEmail", async (req, res) => {
    res.json(await confirmations.confirm(parse(confirmEmailBody, req.body).token));
  });
  serve(router, "logout", authenticate(accounts), async (_req, res) => {
    await accounts.logout(actorOf(res));
    res.status(204).end();
  });
  return router;
}
