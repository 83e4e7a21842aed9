import { searchQuery } from "@parley/protocol";
import { Router } from "express";
import type { SearchService } from "../../services/search-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";

export function searchRouter(search: SearchService): Router {
  const router = Router();
  router.get("/search/messages", async (req, res) => {
    res.json(await search.search(actorOf(res), parse(searchQuery, req.query)));
  });
  return router;
}
