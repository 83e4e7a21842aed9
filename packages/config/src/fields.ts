import { z } from "zod";
import { parseDuration } from "./duration";

/** A duration in milliseconds, written as `500`, `500ms`, `2s`, `5m`, `12h` or `90d`. */
export function duration(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: "must be milliseconds or a number with a unit (ms, s, m, h, d)" });
        return z.NEVER;
      }
      return ms;
    });
}

export function integer(defaultValue: number, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .default(String(defaultValue))
    .transform((text, ctx) => {
      const value = Number(text);
      if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: "custom", message: `must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    });
}

export function port(defaultValue: number) {
  return integer(defaultValue, 0, 65_535);
}

export function url(protocols: readonly string[], message: string) {
  return z.string().refine((text) => {
    try {
      return protocols.includes(new URL(text).protocol);
    } catch {
      return false;
    }
  }, message);
}

/** A comma-separated list; empty entries are dropped. */
export function list(defaultValue = "") {
  return z
    .string()
    .default(defaultValue)
    .transform((text) =>
      text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    );
}

export const logLevel = z
  .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
    message: "must be one of fatal, error, warn, info, debug, trace, silent",
  })
  .default("info");
