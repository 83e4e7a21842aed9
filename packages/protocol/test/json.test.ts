import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseJsonWith } from "../src";

describe("parseJsonWith", () => {
  const point = z.object({ x: z.number(), y: z.number() });

  it("answers the parsed value of JSON text of the schema", () => {
    expect(parseJsonWith(point, '{"x":1,"y":2}')).toEqual({ x: 1, y: 2 });
  });

  it.each([
    ["text that is not JSON", "{x:1"],
    ["JSON of another shape", '{"x":1}'],
    ["JSON null", "null"],
    ["an empty string", ""],
  ])("answers undefined, never throwing, for %s", (_what, text) => {
    expect(parseJsonWith(point, text)).toBeUndefined();
  });
});
