import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createOutput, prettyLogLine } from "../src/output";

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

describe("output", () => {
  it("prefixes every line with the name padded to the widest registered one", () => {
    const stdout = collect();
    const stderr = collect();
    const output = createOutput({ stdout: stdout.stream, stderr: stderr.stream, color: false, pretty: false });
    for (const name of ["parley", "api", "edge-10"]) output.register(name);
    output.line("api", "listening");
    output.line("edge-10", "oops", "stderr");
    output.raw("parley: ready");

    expect(stdout.text()).toBe("api     | listening\nparley: ready\n");
    expect(stderr.text()).toBe("edge-10 | oops\n");
  });

  it("colours the name column only when asked", () => {
    const stdout = collect();
    const output = createOutput({ stdout: stdout.stream, stderr: stdout.stream, color: true, pretty: false });
    output.register("api");
    output.line("api", "listening");
    expect(stdout.text()).toBe("\u001b[36mapi    |\u001b[0m listening\n");
  });

  it("shows a pino JSON line as time, level and message when pretty, raw otherwise", () => {
    const line = JSON.stringify({ level: 50, time: new Date(2026, 0, 2, 3, 4, 5, 6).getTime(), msg: "boom", err: { message: "ECONNREFUSED" } });
    expect(prettyLogLine(line)).toBe("03:04:05.006 ERROR boom (ECONNREFUSED)");
    const stdout = collect();
    const output = createOutput({ stdout: stdout.stream, stderr: stdout.stream, color: false, pretty: false });
    output.line("api", line);
    expect(stdout.text()).toBe(`api    | ${line}\n`);
  });

  it("understands level labels and ISO times as well as pino's numbers", () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 6);
    const line = JSON.stringify({ level: "warn", time: time.toISOString(), service: "edge", msg: "draining" });
    expect(prettyLogLine(line)).toBe("03:04:05.006 WARN  draining");
    expect(prettyLogLine(line, true)).toBe("03:04:05.006 \u001b[33mWARN \u001b[0m draining");
  });

  it("leaves lines that are not pino JSON alone", () => {
    expect(prettyLogLine("plain text")).toBe("plain text");
    expect(prettyLogLine("{not json")).toBe("{not json");
    expect(prettyLogLine('{"no":"msg"}')).toBe('{"no":"msg"}');
  });
});
