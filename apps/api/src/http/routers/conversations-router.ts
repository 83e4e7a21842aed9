import { addParticipantsBody, conversationListQuery, conversationSettingsBody, createConversationBody } from "@parley/protocol";
import { Router } from "express";
import type { ConversationService } from "../../services/conversation-service";
import type { MembershipService } from "../../services/membership-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { conversationIdOrNotFound, participantIdOrNotFound } from "../path-params";
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
    res.json(await conversations.get(actorOf(res), conversationIdOrNotFound(req.params.id)));
  });
  serve(router, "updateConversationSettings", async (req, res) => {
    const actor = actorOf(res);
    const body = parse(conversationSettingsBody, req.body);
    res.json(await conversations.updateSettings(actor, conversationIdOrNotFound(req.params.id), body));
  });
  serve(router, "addParticipants", async (req, res) => {
    const actor = actorOf(res);
    const body = parse(addParticipantsBody, req.body);
    res.json(await membership.add(actor, conversationIdOrNotFound(req.params.id), body));
  });
  serve(router, "removeParticipant", async (req, res) => {
    const participant = participantIdOrNotFound(req.params.user_id);
    await membership.remove(actorOf(res), conversationIdOrNotFound(req.params.id), participant);
    res.status(204).end();
  });
  return router;
}
