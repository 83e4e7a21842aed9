import { parseJsonWith } from "@parley/protocol";
import { z } from "zod";

/** Where the launcher writes: its own lines and every child's, each prefixed with a padded name. */
export interface Output {
  /** Makes the prefix column wide enough for `name` and gives it a colour. */
  register(name: string): void;
  /** One line under `name`'s prefix, e.g. `api    | listening`; JSON log lines are pretty-printed when enabled. */
  line(name: string, text: string, stream?: "stdout" | "stderr"): void;
  /** One line exactly as given (`parley: ready` is matched verbatim by tests and scripts). */
  raw(text: string): void;
}

export interface OutputOptions {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** ANSI colours on the name column. */
  readonly color: boolean;
  /** Show pino JSON lines as `time level msg`; raw JSON otherwise (for pipes and log collectors). */
  readonly pretty: boolean;
}

const PALETTE = [36, 35, 33, 34, 32, 96, 95, 93, 94, 92] as const;
const LAUNCHER_COLOR = "1;37";

export function createOutput(options: OutputOptions): Output {
  let width = 6;
  const colors = new Map<string, string>();

  const prefix = (name: string): string => {
    const padded = name.padEnd(width);
    const color = colors.get(name);
    return options.color && color ? `\u001b[${color}m${padded} |\u001b[0m` : `${padded} |`;
  };

  return {
    register(name) {
      width = Math.max(width, name.length);
      if (!colors.has(name)) {
        const color = name === "parley" ? LAUNCHER_COLOR : String(PALETTE[colors.size % PALETTE.length]);
        colors.set(name, color);
      }
    },
    line(name, text, stream = "stdout") {
      const body = options.pretty ? prettyLogLine(text, options.color) : text;
      (stream === "stderr" ? options.stderr : options.stdout).write(`${prefix(name)} ${body}\n`);
    },
    raw(text) {
      options.stdout.write(`${text}\n`);
    },
  };
}

/** Output that keeps every line in memory: for tests and embedding. */
export function memoryOutput(): Output & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    register: () => undefined,
    line: (name, text) => lines.push(`${name} | ${text}`),
    raw: (text) => lines.push(text),
  };
}

const pinoLine = z.object({
  time: z.union([z.number(), z.string()]).optional(),
  level: z.union([z.number(), z.string()]).optional(),
  msg: z.string().optional(),
  err: z.object({ message: z.string().optional() }).loose().optional(),
});

const LEVELS: Record<number, { label: string; color: number }> = {
  10: { label: "TRACE", color: 90 },
  20: { label: "DEBUG", color: 90 },
  30: { label: "INFO ", color: 32 },
  40: { label: "WARN ", color: 33 },
  50: { label: "ERROR", color: 31 },
  60: { label: "FATAL", color: 41 },
};

const LEVEL_NAMES: Record<string, { label: string; color: number } | undefined> = Object.fromEntries(
  Object.values(LEVELS).map((entry) => [entry.label.trim().toLowerCase(), entry]),
);

/** `{"level":30,"time":…,"msg":"listening"}` → `12:00:01.123 INFO  listening`; anything else unchanged. */
export function prettyLogLine(text: string, color = false): string {
  if (!text.startsWith("{")) return text;
  const parsed = parseJsonWith(pinoLine, text);
  if (parsed?.msg === undefined) return text;
  const { time, level, msg, err } = parsed;
  const known = typeof level === "number" ? LEVELS[level] : LEVEL_NAMES[String(level)];
  const label = known?.label ?? String(level ?? "").toUpperCase().padEnd(5);
  const when = time === undefined ? "" : `${clock(time)} `;
  const levelText = color && known ? `\u001b[${known.color}m${label}\u001b[0m` : label;
  const error = err?.message && err.message !== msg ? ` (${err.message})` : "";
  return `${when}${levelText} ${msg}${error}`;
}

function clock(time: number | string): string {
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return String(time);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}
