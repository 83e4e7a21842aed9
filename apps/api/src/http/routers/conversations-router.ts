import { addParticipantsBody, conversationListQuery, conversationSettingsBody, createConversationBody, ParleyError, userId } from "@parley/protocol";
import { Router } from "express";
import type { ConversationService } from "../../services/conversation-service";
import type { MembershipService } from "../../services/membership-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { serve } from "../serve";

export function conversationsRouter(conversations: ConversationService, membership: MembershipService): Router {
  const router = Router();
  serve(router, "createConversation", async (req, res) => {
    const { conversation, created } = await conversations.create(actorOf(res), parse(createConversationBody, req.body));
    res.status(created ? 201 : 200).json(conversation);
  });
  serve(router, "listConversations", async (req, res) => {
    res.json(await conversations.list(actorOf(res), parse(conversationListQuery, req.query)));
  });
  serve(router, "getConversation", async (req, res) => {
    res.json(await conversations.get(actorOf(res), req.params.id));
  });
  serve(router, "updateConversationSettings", async (req, res) => {
    res.json(await conversations.updateSettings(actorOf(res), req.params.id, parse(conversationSettingsBody, req.body)));
  });
  serve(router, "addParticipants", async (req, res) => {
    res.json(await membership.add(actorOf(res), req.params.id, parse(addParticipantsBody, req.body)));
  });
  serve(router, "removeParticipant", async (req, res) => {
    // A user id that no user can have names nobody in the conversation.
    if (!userId.safeParse(req.params.user_id).success) throw new ParleyError("not_found", "No such participant.");
    await membership.remove(actorOf(res), req.params.id, req.params.user_id);
    res.status(204).end();
  });
  return router;
}
