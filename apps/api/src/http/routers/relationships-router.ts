import { relationshipBody } from "@parley/protocol";
import { Router } from "express";
import type { RelationshipService } from "../../services/relationship-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function relationshipsRouter(relationships: RelationshipService): Router {
  const router = Router();
  serve(router, "createRelationship", async (req, res) => {
    const actor = actorOf(res);
    relationships.assertMayManage(actor); // before validation: others learn nothing about the endpoint
    const { relationship, created } = await relationships.link(actor, parse(relationshipBody, req.body));
    res.status(created ? 201 : 200).json(relationship);
  });
  serve(router, "deleteRelationship", async (req, res) => {
    const actor = actorOf(res);
    relationships.assertMayManage(actor);
    await relationships.unlink(actor, parse(relationshipBody, req.body));
    res.status(204).end();
  });
  return router;
}
