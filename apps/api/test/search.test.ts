import type { Message, Page } from "@parley/protocol";
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { RegisteredUser } from "./support/api-harness";
import { alice, api, bob, carol, useApiPerFile } from "./support/api-per-file";
import { archiveLikeTheWorker, openDirect, openGroup, send } from "./support/message-fixtures";

interface Hit {
  message: Message;
  snippet: string;
  rank: number;
}

let shared: string;
let secret: string;

useApiPerFile({ people: true });
beforeAll(async () => {
  shared = await openGroup(api, alice, [bob], "Zoo trip");
  secret = await openDirect(api, carol, bob);
  await send(api, alice, shared, "J'ai déjà vu un éléphant au zoo");
  await send(api, bob, shared, "The elephant house opens at nine");
  await send(api, alice, shared, "Elephant, elephant, elephant: the children only want to see the elephant");
  await send(api, bob, shared, "See <b>you</b> & the éléphant tomorrow");
  await send(api, carol, secret, "Bob, the elephant plan is secret");
});

const search = (user: RegisteredUser, query: string) => api.request<Page<Hit>>("GET", `/v1/search/messages?${query}`, { token: user.token });
const q = (text: string, extra = "") => `q=${encodeURIComponent(text)}${extra}`;

describe("GET /v1/search/messages", () => {
  it("finds French words with their accents, whatever the case", async () => {
    const deja = await search(alice, q("DÉJÀ"));
    expect(deja.status).toBe(200);
    expect(deja.body.items.map((h) => h.message.content)).toEqual(["J'ai déjà vu un éléphant au zoo"]);
    expect(deja.body.items[0]?.snippet).toContain("<mark>déjà</mark>");
    const elephant = await search(alice, q("éléphant"));
    expect(elephant.body.items).toHaveLength(2);
  });

  it("finds English words and ranks the message that says them most first", async () => {
    const hits = (await search(alice, q("elephant"))).body.items;
    expect(hits.map((h) => h.message.content)).toEqual([
      "Elephant, elephant, elephant: the children only want to see the elephant",
      "The elephant house opens at nine",
    ]);
    expect(hits[0]!.rank).toBeGreaterThan(hits[1]!.rank);
    expect(hits[1]?.snippet).toBe("The <mark>elephant</mark> house opens at nine");
  });

  it("understands web search syntax: phrases, OR and exclusion", async () => {
    expect((await search(alice, q('"house opens"'))).body.items.map((h) => h.message.seq)).toEqual([2]);
    expect((await search(alice, q("déjà or nine"))).body.items.map((h) => h.message.seq).sort()).toEqual([1, 2]);
    expect((await search(alice, q("elephant -children"))).body.items.map((h) => h.message.seq)).toEqual([2]);
  });

  it("escapes the user's HTML in snippets; the only markup is the highlight", async () => {
    const [hit] = (await search(bob, q("tomorrow"))).body.items;
    expect(hit?.snippet).toBe("See &lt;b&gt;you&lt;/b&gt; &amp; the éléphant <mark>tomorrow</mark>");
  });

  it("cuts long messages into fragments around the matches, and content cannot forge markup", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const filler = "lorem ipsum dolor sit amet ".repeat(20);
    await send(api, alice, conversationId, `${filler}<script>alert(1)</script> the okapi \uE000sleeps\uE001 ${filler}`);
    const [hit] = (await search(bob, q("okapi"))).body.items;
    expect(hit?.snippet).toContain("<mark>okapi</mark>");
    expect(hit?.snippet).not.toMatch(/<(?!\/?mark>)/);
    expect(hit?.snippet.length).toBeLessThan(400);
    const [unforged] = (await search(bob, q("sleeps"))).body.items;
    expect(unforged?.snippet.match(/<mark>/g)).toHaveLength(1);
  });

  it("never returns messages of conversations the caller is not in", async () => {
    expect((await search(alice, q("secret"))).body.items).toEqual([]);
    expect((await search(carol, q("elephant"))).body.items.map((h) => h.message.conversation_id)).toEqual([secret]);
    expect((await search(bob, q("elephant"))).body.items).toHaveLength(3);
  });

  it("narrows to one conversation, which must be the caller's", async () => {
    expect((await search(bob, q("elephant", `&conversation_id=${secret}`))).body.items.map((h) => h.message.content)).toEqual(["Bob, the elephant plan is secret"]);
    expect(await search(alice, q("elephant", `&conversation_id=${secret}`))).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });

  it("never matches deleted messages, nor those of conversations the caller left", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const gone = await send(api, alice, conversationId, "ephemeral giraffe");
    expect((await search(bob, q("giraffe"))).body.items).toHaveLength(1);
    await api.request("DELETE", `/v1/messages/${gone.id}`, { token: alice.token });
    expect((await search(bob, q("giraffe"))).body.items).toEqual([]);

    await send(api, alice, conversationId, "another giraffe");
    await api.node.database.sql`UPDATE participants SET left_at = now() WHERE conversation_id = ${conversationId} AND user_id = ${bob.id}`;
    expect((await search(bob, q("giraffe"))).body.items).toEqual([]);
    expect((await search(alice, q("giraffe"))).body.items).toHaveLength(1);
  });

  it("searches archived conversations too", async () => {
    const conversationId = await openDirect(api, alice, carol);
    await send(api, carol, conversationId, "an archived pangolin");
    expect(await archiveLikeTheWorker(api, conversationId)).toBe(1);
    const [hit] = (await search(alice, q("pangolin"))).body.items;
    expect(hit?.message).toMatchObject({ conversation_id: conversationId, seq: 1, content: "an archived pangolin" });
  });

  it("pages with an opaque keyset cursor, each hit once, best first", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    for (let i = 1; i <= 7; i++) await send(api, alice, conversationId, `${"zebra ".repeat(i)}number ${i}`);
    // Equal ranks: the keyset falls back on the id.
    for (let i = 8; i <= 11; i++) await send(api, alice, conversationId, "okapi zebra");
    const seen: Hit[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof search>> = await search(bob, q("zebra", `&limit=3${cursor === null ? "" : `&cursor=${cursor}`}`));
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(4);
    expect(seen.map((h) => h.message.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    // More zebras, higher rank; the four equal ranks come newest first, across a page boundary.
    expect(seen.filter((h) => h.message.seq <= 7).map((h) => h.message.seq)).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(seen.filter((h) => h.message.seq > 7).map((h) => h.message.seq)).toEqual([11, 10, 9, 8]);
    expect(new Set(seen.filter((h) => h.message.seq > 7).map((h) => h.rank)).size).toBe(1);
    expect(seen.every((h, i) => i === 0 || h.rank <= seen[i - 1]!.rank)).toBe(true);
  });

  it("names the invalid field, rejects a forged cursor, and needs a token", async () => {
    for (const [query, field] of [
      ["", "q"],
      ["q=%20%20", "q"],
      [q("x", "&limit=0"), "limit"],
      [q("x", "&conversation_id=nope"), "conversation_id"],
    ] as const) {
      expect(await search(alice, query), query).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
    }
    const forged = Buffer.from(JSON.stringify({ offset: 5 })).toString("base64url");
    for (const cursor of ["%%%", forged]) {
      expect(await search(alice, q("x", `&cursor=${cursor}`))).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    }
    expect((await search(alice, q("!!!"))).body).toEqual({ items: [], next_cursor: null });
    expect((await api.request("GET", `/v1/search/messages?q=x&conversation_id=${randomUUID()}`)).status).toBe(401);
  });
});
