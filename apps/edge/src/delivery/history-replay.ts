import { message } from "@parley/protocol";
import { z } from "zod";
import { callerOf } from "../api-caller";
import type { ApiError, ApiGateway } from "../api-client";
import type { Connection } from "../connection";

/** A page of history; messages are passed through as the API wrote them (fields it adds are kept). */
const historyPage = z.object({ items: z.array(message.loose()), next_cursor: z.string().nullable() });
type HistoryPage = z.infer<typeof historyPage>;

const PAGE_SIZE = 200;

export type PageAnswer = { readonly ok: true; readonly page: HistoryPage } | { readonly ok: false; readonly error: ApiError };

/** One ascending page of a conversation's messages after `afterSeq`, read with the user's own token. */
export async function fetchHistoryPage(api: ApiGateway, connection: Connection, conversationId: string, afterSeq: number): Promise<PageAnswer> {
  const answer = await api.call("history", callerOf(connection), { target: conversationId, args: { after_seq: afterSeq, limit: PAGE_SIZE } });
  if (!answer.ok) return answer;
  const parsed = historyPage.safeParse(answer.body);
  if (!parsed.success) return { ok: false, error: { code: "unavailable", message: "The API answered an unexpected history page." } };
  return { ok: true, page: parsed.data };
}

/**
 * Writes the messages after `afterSeq` as `new_message` frames in seq order, starting with an already fetched
 * first page and paginating until the end. Returns the last seq written.
 */
export async function replayHistory(api: ApiGateway, connection: Connection, conversationId: string, first: HistoryPage): Promise<{ lastSeq: number; error?: ApiError }> {
  let page = first;
  let lastSeq = 0;
  for (;;) {
    for (const item of page.items) {
      if (connection.congested() && !(await connection.writable())) return { lastSeq };
      if (!connection.send({ type: "new_message", conversation_id: conversationId, message: item })) return { lastSeq };
      lastSeq = Math.max(lastSeq, item.seq);
    }
    const last = page.items.at(-1);
    if (page.next_cursor === null || last === undefined) return { lastSeq };
    const next = await fetchHistoryPage(api, connection, conversationId, last.seq);
    if (!next.ok) return { lastSeq, error: next.error };
    page = next.page;
  }
}
