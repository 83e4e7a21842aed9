/**
 * The paging rules on their own: no database, no server (the fast tier). Cursors are opaque to clients but must come
 * back exactly as they went out, and anything else is a 400 invalid_cursor; a page is read with one row more than it
 * shows. The same rules against real services: message-history.test.ts, conversation-list.test.ts.
 */
import { ParleyError } from "@parley/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { decodeCursor, encodeCursor, newestFirstPage, pageOf } from "../src/services/page-cursor";

const ID = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e";
const seqCursor = z.object({ seq: z.number().int() });

/** The error `run` throws (and a failure when it throws none). */
function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, got none");
}

function expectInvalidCursor(run: () => unknown): void {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(ParleyError);
  expect(error).toMatchObject({ code: "invalid_cursor", field: "cursor" });
}

describe("cursors", () => {
  it("decode to the position they were made from", () => {
    const position = z.object({ id: z.string(), seq: z.number().int(), at: z.string() });
    fc.assert(
      fc.property(fc.record({ id: fc.string(), seq: fc.integer(), at: fc.string() }), (value) => {
        const cursor = encodeCursor(value);
        expect(cursor).toMatch(/^[\w-]*$/);
        expect(decodeCursor(cursor, position)).toEqual(value);
      }),
    );
  });

  it.each([
    ["not base64url JSON", "bm90IGpzb24"],
    ["empty", ""],
    ["characters base64url does not have", "%%%"],
    ["JSON of another shape", encodeCursor({ id: ID })],
    ["the right field with the wrong type", encodeCursor({ seq: "7" })],
    ["a JSON array", Buffer.from("[7]").toString("base64url")],
  ])("refuses a cursor that is %s with invalid_cursor on the cursor field", (_case, cursor) => {
    expectInvalidCursor(() => decodeCursor(cursor, seqCursor));
  });
});

describe("pageOf", () => {
  const rows = [{ seq: 5 }, { seq: 4 }, { seq: 3 }];
  const page = (limit: number, read = rows) => pageOf(read, limit, (row) => `message ${row.seq}`, (row) => ({ seq: row.seq }));

  it("shows `limit` items and, when the extra row is there, a cursor to the last item shown", () => {
    const first = page(2);
    expect(first.items).toEqual(["message 5", "message 4"]);
    expect(first.next_cursor).not.toBeNull();
    expect(decodeCursor(first.next_cursor ?? "", seqCursor)).toEqual({ seq: 4 });
  });

  it("has no next cursor when the rows fit the page", () => {
    expect(page(3)).toEqual({ items: ["message 5", "message 4", "message 3"], next_cursor: null });
    expect(page(5)).toEqual({ items: ["message 5", "message 4", "message 3"], next_cursor: null });
    expect(page(2, [])).toEqual({ items: [], next_cursor: null });
  });
});

describe("newestFirstPage", () => {
  it("reads one row more than the page shows, from the newest without a cursor", () => {
    expect(newestFirstPage({ limit: 50 })).toEqual({ beforeId: undefined, limit: 51 });
    expect(newestFirstPage({ cursor: undefined, limit: 1 })).toEqual({ beforeId: undefined, limit: 2 });
  });

  it("reads before the id a cursor names, as pageOf writes it", () => {
    const written = pageOf([{ id: ID }, { id: "later row" }], 1, (row) => row.id, (row) => ({ id: row.id }));
    expect(newestFirstPage({ cursor: written.next_cursor ?? "", limit: 20 })).toEqual({ beforeId: ID, limit: 21 });
  });

  it.each([
    ["names no UUID", encodeCursor({ id: "not-a-uuid" })],
    ["is not a cursor", "garbage"],
    ["is a cursor of another list", encodeCursor({ seq: 4 })],
  ])("refuses a cursor that %s with invalid_cursor", (_case, cursor) => {
    expectInvalidCursor(() => newestFirstPage({ cursor, limit: 20 }));
  });
});
