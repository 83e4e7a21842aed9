import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { closeAll, createLogger } from "../src";

describe("closeAll", () => {
  it("runs every step in order even when one fails, and logs the failure with its step", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    });
    const logger = createLogger({ name: "test", destination: sink });
    const ran: string[] = [];
    const failed = await closeAll(logger, [
      ["first", () => ran.push("first")],
      [
        "second",
        async () => {
          ran.push("second");
          await Promise.resolve();
          throw new Error("socket already gone");
        },
      ],
      ["third", () => ran.push("third")],
    ]);
    expect(ran).toEqual(["first", "second", "third"]);
    expect(failed).toEqual(["second"]);
    expect(lines.join("")).toMatch(/"step":"second".*a shutdown step failed/);
  });
});
