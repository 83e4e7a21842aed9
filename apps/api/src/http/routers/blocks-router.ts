import { blockListQuery } from "@parley/protocol";
import { Router } from "express";
import type { BlockService } from "../../services/block-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function blocksRouter(blocks: BlockService): Router {
  const router = Router();
  serve(router, "blockUser", async (req, res) => {
    await blocks.block(actorOf(res), req.params.id);
    res.status(204).end();
  });
  serve(router, "unblockUser", async (req, res) => {
    await blocks.unblock(actorOf(res), req.params.id);
    res.status(204).end();
  });
  serve(router, "listBlocks", async (req, res) => {
    res.json(await blocks.list(actorOf(res), parse(blockListQuery, req.query)));
  });
  return router;
}
