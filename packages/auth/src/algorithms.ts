import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { AuthConfigError } from "./auth-error";

export type JwtAlgorithm = "HS256" | "RS256" | "ES256";

/** HMAC keys shorter than this are guessable offline from any token. */
export const MIN_SECRET_LENGTH = 32;

export function assertSecret(secret: string): void {
  if (secret.length < MIN_SECRET_LENGTH) throw new AuthConfigError(`the JWT secret must be at least ${MIN_SECRET_LENGTH} characters`);
}

/** The one algorithm an asymmetric key can sign or verify with (RSA → RS256, P-256 → ES256). */
export function algorithmForKey(key: KeyObject): JwtAlgorithm {
  if (key.asymmetricKeyType === "rsa") return "RS256";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  throw new AuthConfigError(`unsupported key type ${key.asymmetricKeyType ?? "unknown"}: use an RSA or P-256 EC key`);
}

const PEM_KINDS = {
  public: { read: createPublicKey, format: "SPKI" },
  private: { read: createPrivateKey, format: "PKCS#8" },
} as const;

/** The algorithm of a PEM key (`public`: SPKI, to verify; `private`: PKCS#8, to sign); a key it cannot read or use is an AuthConfigError. */
export function algorithmForPem(pem: string, kind: keyof typeof PEM_KINDS): JwtAlgorithm {
  const { read, format } = PEM_KINDS[kind];
  try {
    return algorithmForKey(read(pem));
  } catch (error) {
    if (error instanceof AuthConfigError) throw error;
    throw new AuthConfigError(`the JWT ${kind} key is not a readable PEM (${format}) key`, { cause: error });
  }
}
