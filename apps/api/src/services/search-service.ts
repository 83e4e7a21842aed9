import type { Database } from "@parley/db";
import { ParleyError, toWireMessage, type Message, type Page } from "@parley/protocol";
import { z } from "zod";
import type { MessageRepository } from "../repositories/message-repository";
import { HIGHLIGHT_START, HIGHLIGHT_STOP, type SearchRepository } from "../repositories/search-repository";
import type { Actor } from "./actor";
import { decodeCursor, encodeCursor } from "./page-cursor";

export interface SearchServiceDeps {
  readonly database: Database;
  readonly messages: MessageRepository;
  readonly search: SearchRepository;
}

export interface SearchInput {
  readonly q: string;
  readonly conversation_id?: string | undefined;
  readonly limit: number;
  readonly cursor?: string | undefined;
}

/**
 * A hit is the message itself (its fields at the top level, as a list of messages reads) plus the highlight; `message`
 * repeats it for clients written against the nested form.
 */
export type SearchHit = Message & {
  readonly message: Message;
  /** HTML: the content escaped, matches wrapped in <mark>…</mark>. */
  readonly snippet: string;
  readonly rank: number;
};

// ts_rank is a PostgreSQL real: a rank beyond its range cannot come from this API.
const rankCursor = z.strictObject({ rank: z.number().nonnegative().max(3.4e38), id: z.uuid() });

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes user content, then turns the highlight markers into <mark> tags: the only markup in a snippet is ours. */
export function snippetHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)
    .replaceAll(HIGHLIGHT_START, "<mark>")
    .replaceAll(HIGHLIGHT_STOP, "</mark>");
}

/** Full-text search over the caller's conversations (live and archived messages). */
export class SearchService {
  constructor(private readonly deps: SearchServiceDeps) {}

  /**
   * Best matches first (ts_rank, then newest id). next_cursor is opaque: base64url JSON of the last hit's
   * {rank, id}, a keyset position, so deep pages cost no offset scan.
   */
  async search(actor: Actor, input: SearchInput): Promise<Page<SearchHit>> {
    const { database, messages, search } = this.deps;
    if (input.conversation_id !== undefined && !(await messages.activeParticipant(database.db, input.conversation_id, actor.id))) {
      throw new ParleyError("not_found", "No such conversation.");
    }
    const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor, rankCursor);
    const hits = await search.search(database.db, {
      userId: actor.id,
      text: input.q,
      conversationId: input.conversation_id,
      after,
      limit: input.limit + 1,
    });
    const page = hits.slice(0, input.limit);
    const rows = new Map((await messages.findMany(database.db, page.map((hit) => hit.id))).map((row) => [row.id, row]));
    const items: SearchHit[] = [];
    for (const hit of page) {
      const row = rows.get(hit.id);
      // Deleted between the two reads: a deleted message never matches.
      if (row?.deletedAt !== null) continue;
      const message = toWireMessage(row);
      items.push({ ...message, message, snippet: snippetHtml(hit.snippet), rank: hit.rank });
    }
    const last = page.at(-1);
    return { items, next_cursor: hits.length > input.limit && last ? encodeCursor({ rank: last.rank, id: last.id }) : null };
  }
}
