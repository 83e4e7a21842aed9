import { ParleyError } from "@parley/protocol";
import type { z } from "zod";

/** Parses one part of a request (body, query, params) with a protocol schema; a failure names the field. */
export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : undefined;
  const reason = issue?.code === "unrecognized_keys" ? `unknown field ${issue.keys.join(", ")}` : (issue?.message ?? "invalid");
  throw new ParleyError("invalid_request", field ? `${field}: ${reason}` : reason, field);
}
