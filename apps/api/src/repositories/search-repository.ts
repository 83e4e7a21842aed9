import { schema, type Executor } from "@parley/db";
import { sql, type SQL } from "drizzle-orm";

/** Private-use characters that mark highlights in snippets; stripped from content first so users cannot forge them. */
export const HIGHLIGHT_START = "\uE000";
export const HIGHLIGHT_STOP = "\uE001";

const MARKERS = `StartSel=${HIGHLIGHT_START}, StopSel=${HIGHLIGHT_STOP}`;
/** Up to this many characters a message is its own snippet; longer ones give two fragments around matches. */
const WHOLE_SNIPPET_CHARS = 280;
const WHOLE = `${MARKERS}, HighlightAll=true`;
const FRAGMENTS = `${MARKERS}, MaxFragments=2, MaxWords=30, MinWords=15, FragmentDelimiter=" … "`;

/** Keyset position in a result list: ranks are compared as float4, exactly as PostgreSQL computed them. */
export interface RankPosition {
  readonly rank: number;
  readonly id: string;
}

export interface SearchHitRow {
  readonly id: string;
  readonly rank: number;
  /** Plain text (not escaped) with HIGHLIGHT_START/HIGHLIGHT_STOP around matches. */
  readonly snippet: string;
}

export interface SearchParams {
  readonly userId: string;
  readonly text: string;
  readonly conversationId?: string | undefined;
  readonly after?: RankPosition | undefined;
  readonly limit: number;
}

/**
 * Full-text search with the `simple` configuration (language-neutral: words match as written, accents kept),
 * over the GIN-indexed `search` column of live and archived messages, in conversations where the user is an
 * active participant. Deleted messages never match (their content is emptied anyway).
 */
export class SearchRepository {
  async search(ex: Executor, params: SearchParams): Promise<SearchHitRow[]> {
    // websearch_to_tsquery is immutable: with the text as a parameter the planner can use the GIN index.
    const query = sql`websearch_to_tsquery('simple', ${params.text})`;
    const p = schema.participants;
    const mine = sql`SELECT ${p.conversationId} FROM ${p} WHERE ${p.userId} = ${params.userId} AND ${p.leftAt} IS NULL${
      params.conversationId === undefined ? sql`` : sql` AND ${p.conversationId} = ${params.conversationId}`
    }`;
    const branch = (table: typeof schema.messages | typeof schema.archivedMessages): SQL => sql`
      SELECT ${table.id} AS id, ${table.content} AS content, ts_rank(${table.search}, ${query}) AS rank
      FROM ${table}
      WHERE ${table.conversationId} IN (${mine}) AND ${table.search} @@ ${query} AND ${table.deletedAt} IS NULL`;
    const after = params.after
      ? sql`WHERE (rank < ${params.after.rank}::real OR (rank = ${params.after.rank}::real AND id < ${params.after.id}::uuid))`
      : sql``;
    // Snippets are computed for the page only: ts_headline re-parses the whole content.
    const rows = await ex.execute<{ id: string; rank: number; snippet: string }>(sql`
      WITH hits AS (${branch(schema.messages)} UNION ALL ${branch(schema.archivedMessages)}),
      page AS (SELECT id, content, rank FROM hits ${after} ORDER BY rank DESC, id DESC LIMIT ${params.limit})
      SELECT id, rank,
        ts_headline('simple', translate(content, ${HIGHLIGHT_START + HIGHLIGHT_STOP}, ''), ${query},
          CASE WHEN char_length(content) <= ${WHOLE_SNIPPET_CHARS} THEN ${WHOLE} ELSE ${FRAGMENTS} END) AS snippet
      FROM page
      ORDER BY rank DESC, id DESC`);
    return rows.map((row) => ({ id: row.id, rank: row.rank, snippet: row.snippet }));
  }
}
