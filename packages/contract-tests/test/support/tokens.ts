import { SignJWT } from "jose";
import { randomUUID } from "node:crypto";
import { JWT_SECRET } from "./cluster";

export interface TokenClaims {
  readonly sub: string;
  readonly role: string;
  readonly name?: string;
  readonly email?: string;
  readonly jti?: string;
}

/** A token as an external identity provider sharing the HS256 secret would issue it. */
export interface SignOptions {
  readonly expiresInSec?: number;
  readonly secret?: string;
  readonly omitExp?: boolean;
  readonly issuer?: string;
  readonly audience?: string;
  /** HS256 unless given (the deployment pins HS256). */
  readonly alg?: "HS256" | "HS384" | "HS512";
}

export async function signToken(claims: TokenClaims, options: SignOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ role: claims.role, ...(claims.name === undefined ? {} : { name: claims.name }), ...(claims.email === undefined ? {} : { email: claims.email }) })
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(claims.jti ?? randomUUID())
    .setIssuedAt(now - 60);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  if (options.omitExp !== true) jwt.setExpirationTime(now + (options.expiresInSec ?? 3_600));
  return jwt.sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** A `role: service` token for back-office calls. */
export function serviceToken(options: SignOptions = {}): Promise<string> {
  return signToken({ sub: `svc-${randomUUID()}`, role: "service" }, options);
}
