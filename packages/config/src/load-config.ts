import type { z } from "zod";

/** A configuration error: names every bad variable with the reason, never its value. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly { variable: string; reason: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.reason}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/** Parses the environment once at start-up. Empty strings count as unset. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env = process.env): z.output<S> {
  const present: Env = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") present[key] = value;
  }
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    variable: issue.path.map(String).join(".") || "(environment)",
    reason: reasonOf(issue, present),
  }));
  throw new ConfigError(problems);
}

function reasonOf(issue: z.core.$ZodIssue, env: Env): string {
  const variable = issue.path[0];
  if (typeof variable === "string" && env[variable] === undefined && issue.code === "invalid_type") return "is required";
  // Messages we write never contain values; zod's own messages name only the expected type.
  return issue.message;
}

const SECRET_NAME = /SECRET|PASSWORD|PRIVATE|TOKEN/i;

/** The config as it may be printed: secrets masked, passwords removed from URLs. */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_NAME.test(key)) out[key] = value === undefined ? undefined : "[redacted]";
    else if (typeof value === "string" && /^[a-z]+:\/\//i.test(value)) out[key] = redactUrl(value);
    else out[key] = value;
  }
  return out;
}

export function redactUrl(text: string): string {
  try {
    const parsed = new URL(text);
    if (parsed.password) parsed.password = "redacted";
    return parsed.toString();
  } catch {
    return text;
  }
}
