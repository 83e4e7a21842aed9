import { userSearchQuery } from "@parley/protocol";
import { Router } from "express";
import type { UserDirectoryService } from "../../services/user-directory-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function usersRouter(directory: UserDirectoryService): Router {
  const router = Router();
  serve(router, "searchUsers", async (req, res) => {
    res.json(await directory.search(actorOf(res), parse(userSearchQuery, req.query)));
  });
  return router;
}
