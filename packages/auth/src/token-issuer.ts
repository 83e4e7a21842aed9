import type { JwtConfig } from "@parley/config";
import { importPKCS8, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { uuidv7 } from "uuidv7";
import { algorithmForPem, assertSecret, type JwtAlgorithm } from "./algorithms";
import { AuthConfigError } from "./auth-error";
import { tokenClaimsSchema, type TokenClaims } from "./token-claims";

export interface TokenIssuerOptions {
  /** Shared HS256 secret. Exactly one of secret and privateKey is required. */
  readonly secret?: string;
  /** PEM (PKCS#8) RSA or P-256 private key. */
  readonly privateKey?: string;
  /** Must match the key; inferred from it when omitted. */
  readonly algorithm?: JwtAlgorithm;
  /** Written as `kid` in the header, so a JWKS verifier can pick the key. */
  readonly keyId?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** Lifetime of a token; at least one second. */
  readonly ttlMs: number;
  readonly now?: () => Date;
  /** Token ids (`jti`); uuidv7 unless given. */
  readonly newId?: () => string;
}

export interface IssueInput {
  readonly sub: string;
  readonly role: string;
  readonly name?: string;
  readonly email?: string;
  /** Set by an issuer that checked the address (as identity providers do). */
  readonly email_verified?: boolean;
}

export interface IssuedToken {
  readonly token: string;
  readonly claims: TokenClaims;
}

export interface TokenIssuer {
  readonly algorithm: JwtAlgorithm;
  /** Signs a token with jti, iat, exp (and iss/aud when configured). */
  issue(input: IssueInput): Promise<IssuedToken>;
}

function signingKey(options: TokenIssuerOptions): { algorithm: JwtAlgorithm; key: () => Promise<CryptoKey | Uint8Array> } {
  if ((options.secret === undefined) === (options.privateKey === undefined)) throw new AuthConfigError("set exactly one of secret or privateKey");
  if (options.secret !== undefined) {
    assertSecret(options.secret);
    if (options.algorithm !== undefined && options.algorithm !== "HS256") throw new AuthConfigError(`a shared secret signs HS256 only, not ${options.algorithm}`);
    const key = new TextEncoder().encode(options.secret);
    return { algorithm: "HS256", key: () => Promise.resolve(key) };
  }
  const pem = options.privateKey ?? "";
  const algorithm = algorithmForPem(pem, "private");
  if (options.algorithm !== undefined && options.algorithm !== algorithm) throw new AuthConfigError(`the private key is for ${algorithm}, not ${options.algorithm}`);
  let imported: Promise<CryptoKey> | undefined;
  return {
    algorithm,
    key: () => {
      imported ??= importPKCS8(pem, algorithm);
      return imported;
    },
  };
}

/** The built-in issuer for standalone deployments and tests (an external identity provider replaces it). */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  if (!Number.isFinite(options.ttlMs) || options.ttlMs < 1000) throw new AuthConfigError("ttlMs must be at least 1000");
  const { algorithm, key } = signingKey(options);
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? uuidv7;

  return {
    algorithm,
    async issue(input) {
      const issuedAtMs = now().getTime();
      const payload: JWTPayload = {
        sub: input.sub,
        role: input.role,
        ...(input.name === undefined ? {} : { name: input.name }),
        ...(input.email === undefined ? {} : { email: input.email }),
        ...(input.email_verified === undefined ? {} : { email_verified: input.email_verified }),
        jti: newId(),
        iat: Math.floor(issuedAtMs / 1000),
        exp: Math.floor((issuedAtMs + options.ttlMs) / 1000),
        ...(options.issuer === undefined ? {} : { iss: options.issuer }),
        ...(options.audience === undefined ? {} : { aud: options.audience }),
      };
      // Refuses to sign what the verifier would refuse (an empty sub, a role that is not a lowercase word).
      const claims = tokenClaimsSchema.parse(payload);
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: algorithm, typ: "JWT", ...(options.keyId === undefined ? {} : { kid: options.keyId }) })
        .sign(await key());
      return { token, claims };
    },
  };
}

/** Issuer options from @parley/config, or undefined when this deployment has no signing key (JWKS / public key only). */
export function issuerOptionsFromConfig(config: JwtConfig, extra: Pick<TokenIssuerOptions, "now" | "newId" | "keyId"> = {}): TokenIssuerOptions | undefined {
  const key = config.JWT_SECRET !== undefined ? { secret: config.JWT_SECRET } : config.JWT_PRIVATE_KEY !== undefined ? { privateKey: config.JWT_PRIVATE_KEY } : undefined;
  if (key === undefined) return undefined;
  return {
    ...key,
    ttlMs: config.ACCESS_TOKEN_TTL,
    ...(config.JWT_ISSUER === undefined ? {} : { issuer: config.JWT_ISSUER }),
    ...(config.JWT_AUDIENCE === undefined ? {} : { audience: config.JWT_AUDIENCE }),
    ...extra,
  };
}
