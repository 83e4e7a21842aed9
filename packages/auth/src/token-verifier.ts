import type { JwtConfig } from "@parley/config";
import { createRemoteJWKSet, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyOptions } from "jose";
import { algorithmForPem, assertSecret, type JwtAlgorithm } from "./algorithms";
import { AuthConfigError, AuthError } from "./auth-error";
import type { RevocationChecker } from "./revocation-store";
import { tokenClaimsSchema, type TokenClaims } from "./token-claims";

export interface TokenVerifierOptions {
  /** Shared HS256 secret. Exactly one of secret, publicKey and jwksUrl is required. */
  readonly secret?: string;
  /** PEM (SPKI) RSA or P-256 public key. */
  readonly publicKey?: string;
  /** An identity provider's JWKS endpoint (RS256/ES256 keys, selected by `kid`). */
  readonly jwksUrl?: string;
  /** Accepted algorithms; defaults to HS256 for a secret, the key's own algorithm for a public key, RS256+ES256 for JWKS. */
  readonly algorithms?: readonly JwtAlgorithm[];
  /** When set, `iss` must equal it. */
  readonly issuer?: string;
  /** When set, `aud` must contain it. */
  readonly audience?: string;
  /** Accepted clock skew for exp/nbf/iat, in seconds; 0 unless given. */
  readonly clockToleranceSec?: number;
  /** Refuses tokens whose `jti` was revoked (tokens without jti cannot be revoked). */
  readonly revocations?: RevocationChecker;
  /** The verifier's clock; the system clock unless given. */
  readonly now?: () => Date;
  /** Deadline for fetching the JWKS; jose's default (5 s) unless given. */
  readonly jwksTimeoutMs?: number;
}

export interface TokenVerifier {
  /** The pinned algorithm list: a token signed with anything else is refused. */
  readonly algorithms: readonly JwtAlgorithm[];
  /**
   * The token's claims, or an AuthError saying why it was refused. Failures of the JWKS endpoint or
   * of the revocation store are not the token's fault and are thrown as they are.
   */
  verify(token: string): Promise<TokenClaims>;
}

type VerifyJwt = (token: string, options: JWTVerifyOptions) => Promise<{ payload: JWTPayload }>;

const ASYMMETRIC: readonly JwtAlgorithm[] = ["RS256", "ES256"];

function keySource(options: TokenVerifierOptions): { algorithms: JwtAlgorithm[]; verifyJwt: VerifyJwt } {
  const sources = [options.secret, options.publicKey, options.jwksUrl].filter((source) => source !== undefined);
  if (sources.length !== 1) throw new AuthConfigError("set exactly one of secret, publicKey or jwksUrl");

  if (options.secret !== undefined) {
    assertSecret(options.secret);
    const wrong = options.algorithms?.filter((alg) => alg !== "HS256") ?? [];
    if (wrong.length > 0) throw new AuthConfigError(`a shared secret verifies HS256 only, not ${wrong.join(", ")}`);
    const key = new TextEncoder().encode(options.secret);
    return { algorithms: ["HS256"], verifyJwt: (token, verifyOptions) => jwtVerify(token, key, verifyOptions) };
  }

  // HS256 with a public key would let anyone holding the (public) key sign tokens.
  if (options.algorithms?.includes("HS256") === true) throw new AuthConfigError("HS256 needs a shared secret, not a public key or JWKS");

  if (options.publicKey !== undefined) {
    const pem = options.publicKey;
    const alg = algorithmForPem(pem, "public");
    if (options.algorithms !== undefined && !options.algorithms.includes(alg)) {
      throw new AuthConfigError(`the public key is for ${alg}, which is not in the configured algorithms (${options.algorithms.join(", ")})`);
    }
    let imported: ReturnType<typeof importSPKI> | undefined;
    return {
      algorithms: [alg],
      verifyJwt: async (token, verifyOptions) => {
        imported ??= importSPKI(pem, alg);
        return jwtVerify(token, await imported, verifyOptions);
      },
    };
  }

  let url: URL;
  try {
    url = new URL(options.jwksUrl ?? "");
  } catch (error) {
    throw new AuthConfigError("jwksUrl is not a URL", { cause: error });
  }
  const jwks = createRemoteJWKSet(url, options.jwksTimeoutMs === undefined ? {} : { timeoutDuration: options.jwksTimeoutMs });
  const algorithms = options.algorithms === undefined || options.algorithms.length === 0 ? [...ASYMMETRIC] : [...new Set(options.algorithms)];
  return { algorithms, verifyJwt: (token, verifyOptions) => jwtVerify(token, jwks, verifyOptions) };
}

/** Maps jose's refusal to ours; anything that is not about the token (JWKS down) is rethrown. */
function refusal(error: unknown): AuthError | undefined {
  if (error instanceof errors.JWTExpired) return new AuthError("expired", "the token has expired", { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "exp" && error.reason === "missing") return new AuthError("missing_exp", "the token has no exp claim", { cause: error });
    if (error.claim === "iss" || error.claim === "aud") return new AuthError("claim_mismatch", `unexpected ${error.claim} claim`, { cause: error });
    return new AuthError("invalid_claims", `invalid ${error.claim} claim`, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthError("algorithm_not_allowed", "the token's algorithm is not allowed", { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return new AuthError("invalid_signature", "the token's signature is invalid", { cause: error });
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return new AuthError("malformed", "the token is malformed", { cause: error });
  }
  return undefined;
}

/** Verifies access tokens against a pinned algorithm list (PROTOCOL.md "Tokens"). */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { algorithms, verifyJwt } = keySource(options);
  const baseOptions: JWTVerifyOptions = {
    algorithms,
    requiredClaims: ["exp"],
    clockTolerance: options.clockToleranceSec ?? 0,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
  };

  return {
    algorithms,
    async verify(token) {
      if (token.split(".").length !== 3) throw new AuthError("malformed", "the token is not a compact JWS");
      let payload: JWTPayload;
      try {
        ({ payload } = await verifyJwt(token, options.now === undefined ? baseOptions : { ...baseOptions, currentDate: options.now() }));
      } catch (error) {
        throw refusal(error) ?? error;
      }
      const parsed = tokenClaimsSchema.safeParse(payload);
      if (!parsed.success) throw new AuthError("invalid_claims", `invalid claims: ${parsed.error.issues.map((issue) => issue.path.join(".")).join(", ")}`);
      const claims = parsed.data;
      if (claims.jti !== undefined && options.revocations !== undefined && (await options.revocations.isRevoked(claims.jti))) {
        throw new AuthError("revoked", "the token was revoked");
      }
      if (options.revocations?.isSubjectRevoked !== undefined && (await options.revocations.isSubjectRevoked(claims.sub))) {
        throw new AuthError("suspended", "the account is suspended");
      }
      return claims;
    },
  };
}

/** Verifier options from the JWT_* variables of @parley/config (JWT_CLOCK_TOLERANCE is in ms). */
export function fromConfig(config: JwtConfig, extra: Pick<TokenVerifierOptions, "revocations" | "now"> = {}): TokenVerifierOptions {
  return {
    ...(config.JWT_SECRET === undefined ? {} : { secret: config.JWT_SECRET }),
    ...(config.JWT_PUBLIC_KEY === undefined ? {} : { publicKey: config.JWT_PUBLIC_KEY }),
    ...(config.JWKS_URL === undefined ? {} : { jwksUrl: config.JWKS_URL }),
    ...(config.JWT_ALGORITHMS.length === 0 ? {} : { algorithms: config.JWT_ALGORITHMS }),
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
    clockToleranceSec: Math.floor(config.JWT_CLOCK_TOLERANCE / 1000),
    ...extra,
  };
}
