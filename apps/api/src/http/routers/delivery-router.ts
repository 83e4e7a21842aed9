import { deliveredBody } from "@parley/protocol";
import { Router } from "express";
import type { DeliveryService } from "../../services/delivery-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { conversationIdOrNotFound } from "../path-params";
import { serve } from "../serve";

export function deliveryRouter(deliveries: DeliveryService): Router {
  const router = Router();
  serve(router, "markDelivered", async (req, res) => {
    res.json(await deliveries.markDelivered(actorOf(res), conversationIdOrNotFound(req.params.id), parse(deliveredBody, req.body).up_to_seq));
  });
  return router;
}
