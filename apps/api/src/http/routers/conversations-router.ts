import { addParticipantsBody, conversationListQuery, conversationSettingsBody, createConversationBody, ParleyError, userId } from "@parley/protocol";
import { Router } from "express";
import type { ConversationService } from "../../services/conversation-service";
import type { MembershipService } from "../../services/membership-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";

export function conversationsRouter(conversations: ConversationService, membership: MembershipService): Router {
  const router = Router();
  router.post("/conversations", async (req, res) => {
    const { conversation, created } = await conversations.create(actorOf(res), parse(createConversationBody, req.body));
    res.status(created ? 201 : 200).json(conversation);
  });
  router.get("/conversations", async (req, res) => {
    res.json(await conversations.list(actorOf(res), parse(conversationListQuery, req.query)));
  });
  router.get("/conversations/:id", async (req, res) => {
    res.json(await conversations.get(actorOf(res), req.params.id));
  });
  router.patch("/conversations/:id/settings", async (req, res) => {
    res.json(await conversations.updateSettings(actorOf(res), req.params.id, parse(conversationSettingsBody, req.body)));
  });
  router.post("/conversations/:id/participants", async (req, res) => {
    res.json(await membership.add(actorOf(res), req.params.id, parse(addParticipantsBody, req.body)));
  });
  router.delete("/conversations/:id/participants/:user_id", async (req, res) => {
    // A user id that no user can have names nobody in the conversation.
    if (!userId.safeParse(req.params.user_id).success) throw new ParleyError("not_found", "No such participant.");
    await membership.remove(actorOf(res), req.params.id, req.params.user_id);
    res.status(204).end();
  });
  return router;
}
