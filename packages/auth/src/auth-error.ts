import type { ErrorCode } from "@parley/protocol";

/** Why a token was refused. */
export type AuthFailureReason =
  | "malformed"
  | "expired"
  | "invalid_signature"
  | "algorithm_not_allowed"
  | "missing_exp"
  | "claim_mismatch"
  | "invalid_claims"
  | "revoked"
  | "suspended";

/** A token was refused; `reason` says why, `code` is the protocol error code to answer with. */
export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }

  /** The PROTOCOL.md error code (HTTP 401 / close 4001) for this refusal. */
  get code(): Extract<ErrorCode, "invalid_token" | "token_expired" | "token_revoked" | "account_suspended"> {
    if (this.reason === "expired") return "token_expired";
    if (this.reason === "suspended") return "account_suspended";
    if (this.reason === "revoked") return "token_revoked";
    return "invalid_token";
  }
}

/** The verifier or issuer was given unusable settings (no key, a key that does not fit the algorithms). */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
}
