import { parseDuration } from "@parley/config";
import { readFileSync } from "node:fs";
import { z } from "zod";

export const CONVERSATION_TYPES = ["direct", "group", "support"] as const;
export type ConversationType = (typeof CONVERSATION_TYPES)[number];

/** How long messages are kept, per conversation type; undefined: for ever. */
export type RetentionByType = Readonly<Record<ConversationType, number | undefined>>;

const retentionValue = z.string().transform((text, ctx) => {
  if (text === "off") return null;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: "must be off or a positive duration such as 30d" });
    return z.NEVER;
  }
  return ms;
});

/** The one key of a policy file the worker reads (the API validates the whole file). */
const policyRetention = z.object({
  retention: z.object({ direct: retentionValue.optional(), group: retentionValue.optional(), support: retentionValue.optional() }).optional(),
});

/**
 * MESSAGE_RETENTION, overridden per conversation type by a policy file's `retention` ({"direct": "30d", "group":
 * "off"}). Presets carry no overrides. A file that cannot be read or parsed is an error at start-up, not a silent
 * "keep for ever".
 */
export function retentionByType(defaultMs: number | undefined, policySpec: string): RetentionByType {
  const base = { direct: defaultMs, group: defaultMs, support: defaultMs };
  if (!/[/\\.]/.test(policySpec)) return base;
  const parsed = policyRetention.safeParse(JSON.parse(readFileSync(policySpec, "utf8")));
  if (!parsed.success) throw new Error(`PARLEY_POLICY: ${policySpec}: retention: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  const overrides = parsed.data.retention ?? {};
  const pick = (type: ConversationType) => {
    const value = overrides[type];
    return value === undefined ? base[type] : (value ?? undefined);
  };
  return { direct: pick("direct"), group: pick("group"), support: pick("support") };
}
