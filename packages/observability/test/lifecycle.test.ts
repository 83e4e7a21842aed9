import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { closeAll, createLogger, isConnectionLoss } from "../src";

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

describe("isConnectionLoss", () => {
  it("knows a refused or reset connection and the driver's and server's own codes, and nothing else", async () => {
    const { connect } = await import("node:net");
    // A real refused connection (nothing listens on port 1).
    const refused = await new Promise<Error>((resolve) => connect({ host: "127.0.0.1", port: 1 }).on("error", resolve));
    expect(isConnectionLoss(refused)).toBe(true);
    for (const code of ["ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "57P01"]) expect(isConnectionLoss(Object.assign(new Error(code), { code })), code).toBe(true);
    expect(isConnectionLoss(new TypeError("Cannot read properties of null (reading 'write')"))).toBe(false);
    expect(isConnectionLoss(Object.assign(new Error("syntax"), { code: "42601" }))).toBe(false);
    expect(isConnectionLoss("ECONNRESET")).toBe(false);
    expect(isConnectionLoss(undefined)).toBe(false);
  });
});
