import { describe, expect, it } from "vitest";
import { CloseCode, ERRORS, ParleyError, closeCodeOf, httpStatusOf, isErrorCode } from "../src";

describe("the error table", () => {
  it("maps every code to an HTTP status of the right class", () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
      expect(spec.status, code).toBeLessThan(600);
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    }
  });

  it("uses the close codes of the protocol", () => {
    expect(closeCodeOf("token_expired")).toBe(4001);
    expect(closeCodeOf("forbidden")).toBe(4003);
    expect(closeCodeOf("abuse")).toBe(4008);
    expect(closeCodeOf("slow_consumer")).toBe(4009);
    expect(closeCodeOf("too_many_connections")).toBe(4010);
    expect(closeCodeOf("payload_too_large")).toBe(1009);
    expect(closeCodeOf("node_restarting")).toBe(1012);
    expect(closeCodeOf("rate_limited")).toBeUndefined();
    expect(Object.values(CloseCode)).toContain(4000);
  });

  it("gives REST statuses of the protocol", () => {
    expect(httpStatusOf("invalid_request")).toBe(400);
    expect(httpStatusOf("unauthorized")).toBe(401);
    expect(httpStatusOf("forbidden")).toBe(403);
    expect(httpStatusOf("not_found")).toBe(404);
    expect(httpStatusOf("conflict")).toBe(409);
    expect(httpStatusOf("message_too_large")).toBe(413);
    expect(httpStatusOf("rate_limited")).toBe(429);
  });

  it("knows its own codes", () => {
    expect(isErrorCode("not_found")).toBe(true);
    expect(isErrorCode("toString")).toBe(false);
    const error = new ParleyError("forbidden", undefined, "conversation_id");
    expect(error.message).toBe(ERRORS.forbidden.message);
    expect(error.field).toBe("conversation_id");
  });
});
