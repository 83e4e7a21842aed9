import { restRoutes, type RestOperation } from "@parley/protocol";
import type { Request, RequestHandler, Response, Router } from "express";

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}` ? Name | ParamNames<Rest> : P extends `${string}:${infer Name}` ? Name : never;

/** The path parameters of an Express-style path (`/users/:id/block` → `{ id: string }`). */
export type PathParams<P extends string> = Record<ParamNames<P>, string>;

/** Answers one operation; its `req.params` are the parameters of the operation's path. */
export type OperationHandler<O extends RestOperation> = (req: Request<PathParams<(typeof restRoutes)[O]["path"]>>, res: Response) => void | Promise<void>;

/**
 * Serves one operation of the protocol's route table: method and path come from `restRoutes` (from which the OpenAPI
 * document is generated too), so a router only names the operation. Middleware, if any, runs before the handler.
 */
export function serve<O extends RestOperation>(router: Router, operation: O, ...handlers: [...RequestHandler[], OperationHandler<O>]): void {
  const { method, path } = restRoutes[operation];
  // Express fills req.params from this very path, so the handler's parameter type holds.
  router.route(path)[method](...(handlers as RequestHandler[]));
}
