import { ParleyError } from "@parley/protocol";
import type { Request, RequestHandler, Response } from "express";
import type { AccountService } from "../services/account-service";
import type { Actor } from "../services/actor";
import type { RateLimits } from "../repositories/rate-limits";

interface Locals {
  actor?: Actor;
}

/** The caller resolved by {@link authenticate}; routes behind it may rely on it. */
export function actorOf(res: Response): Actor {
  const actor = (res.locals as Locals).actor;
  if (!actor) throw new ParleyError("unauthorized");
  return actor;
}

export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new ParleyError("unauthorized", "The Authorization header must be `Bearer <token>`.");
  return match[1];
}

/** Requires a valid, unrevoked bearer token; counts the request against the caller's per-user limit when given. */
export function authenticate(accounts: AccountService, limits?: RateLimits): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token === undefined) throw new ParleyError("unauthorized");
    const actor = await accounts.authenticate(token);
    (res.locals as Locals).actor = actor;
    await limits?.consumeUserRequest(actor.id);
    next();
  };
}
