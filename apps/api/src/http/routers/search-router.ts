import { searchQuery } from "@parley/protocol";
import { Router } from "express";
import type { SearchService } from "../../services/search-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function searchRouter(search: SearchService): Router {
  const router = Router();
  serve(router, "searchMessages", async (req, res) => {
    res.json(await search.search(actorOf(res), parse(searchQuery, req.query)));
  });
  return router;
}
