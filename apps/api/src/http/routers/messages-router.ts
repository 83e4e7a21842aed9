import { editMessageBody, historyQuery, MAX_INT32, ParleyError, sendMessageBody, type HistoryQuery } from "@parley/protocol";
import { Router } from "express";
import type { MessageService } from "../../services/message-service";
import type { RestoreService } from "../../services/restore-service";
import { actorOf } from "../authenticate";
import { parse } from "../parse";
import { conversationIdOrNotFound, messageIdOrNotFound } from "../path-params";
import { serve } from "../serve";

/**
 * The history query, where `cursor` (a page's next_cursor passed back, as on every list) continues in the page's
 * direction: as after_seq when the query pages forward, else as before_seq.
 */
function historyOf(query: unknown): HistoryQuery {
  const { cursor, ...parsed } = parse(historyQuery, query);
  if (cursor === undefined) return parsed;
  if (!/^\d{1,10}$/.test(cursor) || Number(cursor) > MAX_INT32) throw new ParleyError("invalid_cursor", undefined, "cursor");
  return parsed.after_seq === undefined ? { ...parsed, before_seq: Number(cursor) } : { ...parsed, after_seq: Number(cursor) };
}

export function messagesRouter(messages: MessageService, restore: RestoreService): Router {
  const router = Router();
  serve(router, "sendMessage", async (req, res) => {
    const { message, created } = await messages.send(actorOf(res), conversationIdOrNotFound(req.params.id), parse(sendMessageBody, req.body));
    res.status(created ? 201 : 200).json(message);
  });
  serve(router, "listMessages", async (req, res) => {
    res.json(await messages.history(actorOf(res), conversationIdOrNotFound(req.params.id), historyOf(req.query)));
  });
  serve(router, "editMessage", async (req, res) => {
    res.json(await messages.edit(actorOf(res), messageIdOrNotFound(req.params.id), parse(editMessageBody, req.body)));
  });
  serve(router, "deleteMessage", async (req, res) => {
    await messages.remove(actorOf(res), messageIdOrNotFound(req.params.id));
    res.status(204).end();
  });
  serve(router, "restoreConversation", async (req, res) => {
    res.json(await restore.restore(actorOf(res), conversationIdOrNotFound(req.params.id)));
  });
  return router;
}
