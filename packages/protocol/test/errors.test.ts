import { describe, expect, it } from "vitest";
import { CloseCode, ERRORS, ParleyError, closeCodeOf, httpStatusOf, isErrorCode, type ErrorCode } from "../src";

// The values themselves are checked against docs/PROTOCOL.md (docs-tables.test.ts); these are the rules every row keeps.
const codes = Object.keys(ERRORS) as ErrorCode[];

describe("the error table", () => {
  it("gives every code an HTTP error status and a message, under a snake_case name", () => {
    for (const code of codes) {
      expect(Number.isInteger(httpStatusOf(code)), code).toBe(true);
      expect(httpStatusOf(code), code).toBeGreaterThanOrEqual(400);
      expect(httpStatusOf(code), code).toBeLessThan(600);
      expect(ERRORS[code].message, code).toMatch(/^[A-Z].*\.$/);
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    }
  });

  it("closes a socket only with an error close code of the protocol, never a normal or going-away close", () => {
    const errorCloses = Object.values(CloseCode).filter((close) => close !== CloseCode.normal && close !== CloseCode.goingAway);
    for (const code of codes) {
      const close = closeCodeOf(code);
      if (close !== undefined) expect(errorCloses, code).toContain(close);
    }
  });

  it("closes with 4001 exactly the codes that are a 401 on a socket's token, so both transports mean 'sign in again'", () => {
    for (const code of codes) {
      if (closeCodeOf(code) === CloseCode.badToken) expect(httpStatusOf(code), code).toBe(401);
    }
    // invalid_credentials is a 401 of the login form only: no socket is ever opened with a password.
    const restOnly401 = codes.filter((code) => httpStatusOf(code) === 401 && closeCodeOf(code) === undefined);
    expect(restOnly401).toEqual(["invalid_credentials"]);
  });

  it("knows exactly its own codes, not the names every object inherits", () => {
    for (const code of codes) expect(isErrorCode(code), code).toBe(true);
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "NOT_FOUND", ""]) {
      expect(isErrorCode(name), name).toBe(false);
    }
  });

  it("makes a domain error carry its code, the table's message unless given, and the offending field", () => {
    for (const code of codes) {
      const error = new ParleyError(code, undefined, "conversation_id");
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe("ParleyError");
      expect(error.code).toBe(code);
      expect(error.message).toBe(ERRORS[code].message);
      expect(error.field).toBe("conversation_id");
    }
    expect(new ParleyError("rate_limited", "Slow down.", undefined, { retry_after_ms: 500 })).toMatchObject({ message: "Slow down.", details: { retry_after_ms: 500 } });
  });
});
