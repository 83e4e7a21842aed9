import http from "node:http";
import type { AddressInfo } from "node:net";
import { jwtEnv, loadConfig } from "@parley/config";
import { CompactSign, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthConfigError, AuthError, createTokenIssuer, createTokenVerifier, fromConfig, issuerOptionsFromConfig, type AuthFailureReason, type TokenVerifier } from "../src";

const SECRET = "a-shared-secret-that-is-long-enough-for-hs256";
const OTHER_SECRET = "another-shared-secret-that-is-long-enough-too";
const encoder = new TextEncoder();
const nowSec = () => Math.floor(Date.now() / 1000);

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function sign(payload: JWTPayload, key: Uint8Array | CryptoKey, header: { alg: string; kid?: string } = { alg: "HS256" }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ typ: "JWT", ...header }).sign(key);
}

async function refusal(verifier: TokenVerifier, token: string): Promise<AuthFailureReason> {
  const error: unknown = await verifier.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof AuthError)) throw new Error(`expected an AuthError, got ${String(error)}`);
  return error.reason;
}

const claims = (extra: JWTPayload = {}): JWTPayload => ({ sub: "u-1", role: "student", name: "Ada", exp: nowSec() + 300, ...extra });

describe("with a shared secret (HS256)", () => {
  const verifier = createTokenVerifier({ secret: SECRET });

  it("accepts a token from the built-in issuer and returns its claims", async () => {
    const issuer = createTokenIssuer({ secret: SECRET, ttlMs: 60_000 });
    const { token, claims: issued } = await issuer.issue({ sub: "u-1", role: "teacher", name: "Grace", email: "grace@example.com" });
    const verified = await verifier.verify(token);
    expect(verified).toEqual(issued);
    expect(verified).toMatchObject({ sub: "u-1", role: "teacher", name: "Grace", email: "grace@example.com" });
    expect(verifier.algorithms).toEqual(["HS256"]);
  });

  it('refuses alg "none"', async () => {
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims())}.`;
    expect(await refusal(verifier, unsigned)).toBe("algorithm_not_allowed");
  });

  it("refuses a token signed with another secret, or altered after signing", async () => {
    expect(await refusal(verifier, await sign(claims(), encoder.encode(OTHER_SECRET)))).toBe("invalid_signature");
    const [header, , signature] = (await sign(claims(), encoder.encode(SECRET))).split(".");
    const forged = `${header!}.${base64url(claims({ role: "admin" }))}.${signature!}`;
    expect(await refusal(verifier, forged)).toBe("invalid_signature");
  });

  it("refuses an expired token, but accepts one inside the clock tolerance", async () => {
    const token = await sign(claims({ exp: nowSec() + 60 }), encoder.encode(SECRET));
    const later = (seconds: number) => () => new Date(Date.now() + seconds * 1000);
    expect(await refusal(createTokenVerifier({ secret: SECRET, now: later(100) }), token)).toBe("expired");
    expect(await refusal(createTokenVerifier({ secret: SECRET, clockToleranceSec: 30, now: later(100) }), token)).toBe("expired");
    await expect(createTokenVerifier({ secret: SECRET, clockToleranceSec: 30, now: later(80) }).verify(token)).resolves.toMatchObject({ sub: "u-1" });
  });

  it("refuses a token without exp", async () => {
    const { exp: _exp, ...withoutExp } = claims();
    expect(await refusal(verifier, await sign(withoutExp, encoder.encode(SECRET)))).toBe("missing_exp");
  });

  it("refuses claims Parley cannot use", async () => {
    const { role: _role, ...withoutRole } = claims();
    expect(await refusal(verifier, await sign(withoutRole, encoder.encode(SECRET)))).toBe("invalid_claims");
    expect(await refusal(verifier, await sign(claims({ role: "Super Admin" }), encoder.encode(SECRET)))).toBe("invalid_claims");
    expect(await refusal(verifier, await sign(claims({ sub: "" }), encoder.encode(SECRET)))).toBe("invalid_claims");
  });

  it("refuses garbage as malformed", async () => {
    expect(await refusal(verifier, "not-a-jwt")).toBe("malformed");
    expect(await refusal(verifier, "a.b.c")).toBe("malformed");
    const signedNonsense = await new CompactSign(encoder.encode("not json")).setProtectedHeader({ alg: "HS256" }).sign(encoder.encode(SECRET));
    expect(await refusal(verifier, signedNonsense)).toBe("malformed");
  });

  it("checks iss and aud when configured", async () => {
    const strict = createTokenVerifier({ secret: SECRET, issuer: "https://id.parley.test", audience: "parley" });
    const key = encoder.encode(SECRET);
    await expect(strict.verify(await sign(claims({ iss: "https://id.parley.test", aud: ["parley", "other"] }), key))).resolves.toMatchObject({ sub: "u-1" });
    expect(await refusal(strict, await sign(claims({ iss: "https://evil.test", aud: "parley" }), key))).toBe("claim_mismatch");
    expect(await refusal(strict, await sign(claims({ iss: "https://id.parley.test", aud: "someone-else" }), key))).toBe("claim_mismatch");
    expect(await refusal(strict, await sign(claims({ aud: "parley" }), key))).toBe("claim_mismatch");
  });

  it("maps refusals to protocol error codes", () => {
    expect(new AuthError("expired", "x").code).toBe("token_expired");
    expect(new AuthError("revoked", "x").code).toBe("token_revoked");
    expect(new AuthError("invalid_signature", "x").code).toBe("invalid_token");
  });

  it("refuses settings that would weaken verification", () => {
    expect(() => createTokenVerifier({ secret: "short" })).toThrow(AuthConfigError);
    expect(() => createTokenVerifier({ secret: SECRET, algorithms: ["HS256", "RS256"] })).toThrow(AuthConfigError);
    expect(() => createTokenVerifier({})).toThrow(AuthConfigError);
    expect(() => createTokenVerifier({ secret: SECRET, jwksUrl: "http://127.0.0.1:1/jwks" })).toThrow(AuthConfigError);
  });
});

interface PemKeyPair {
  readonly publicPem: string;
  readonly privatePem: string;
}

/** A new key pair for `alg`, as the PEM texts a deployment would configure. */
async function pemKeyPair(alg: "RS256" | "ES256"): Promise<PemKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicPem: await exportSPKI(publicKey), privatePem: await exportPKCS8(privateKey) };
}

describe("with a public key (RS256 / ES256)", () => {
  let rsa: PemKeyPair;
  let ec: PemKeyPair;

  beforeAll(async () => {
    [rsa, ec] = await Promise.all([pemKeyPair("RS256"), pemKeyPair("ES256")]);
  });

  it("accepts RS256 tokens signed with the matching private key", async () => {
    const issuer = createTokenIssuer({ privateKey: rsa.privatePem, ttlMs: 60_000, issuer: "parley", audience: "parley-api" });
    expect(issuer.algorithm).toBe("RS256");
    const verifier = createTokenVerifier({ publicKey: rsa.publicPem, issuer: "parley", audience: "parley-api" });
    expect(verifier.algorithms).toEqual(["RS256"]);
    const { token, claims: issued } = await issuer.issue({ sub: "u-2", role: "doctor" });
    await expect(verifier.verify(token)).resolves.toEqual(issued);
  });

  it("accepts ES256 with a P-256 key, and refuses a token from another key", async () => {
    const verifier = createTokenVerifier({ publicKey: ec.publicPem });
    expect(verifier.algorithms).toEqual(["ES256"]);
    const { token } = await createTokenIssuer({ privateKey: ec.privatePem, ttlMs: 60_000 }).issue({ sub: "u-3", role: "patient" });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: "u-3", role: "patient" });
    const other = await generateKeyPair("ES256");
    expect(await refusal(verifier, await sign(claims(), other.privateKey, { alg: "ES256" }))).toBe("invalid_signature");
  });

  it("refuses an HS256 token signed with the public key as the secret (algorithm confusion)", async () => {
    const verifier = createTokenVerifier({ publicKey: rsa.publicPem });
    const confused = await sign(claims({ role: "admin" }), encoder.encode(rsa.publicPem), { alg: "HS256" });
    expect(await refusal(verifier, confused)).toBe("algorithm_not_allowed");
    expect(() => createTokenVerifier({ publicKey: rsa.publicPem, algorithms: ["HS256"] })).toThrow(AuthConfigError);
    expect(() => createTokenVerifier({ publicKey: rsa.publicPem, algorithms: ["ES256"] })).toThrow(AuthConfigError);
  });

  it('refuses alg "none" and a token signed for the other asymmetric algorithm', async () => {
    const verifier = createTokenVerifier({ publicKey: rsa.publicPem });
    expect(await refusal(verifier, `${base64url({ alg: "none" })}.${base64url(claims())}.`)).toBe("algorithm_not_allowed");
    const { token } = await createTokenIssuer({ privateKey: ec.privatePem, ttlMs: 60_000 }).issue({ sub: "u-3", role: "patient" });
    expect(await refusal(verifier, token)).toBe("algorithm_not_allowed");
  });
});

describe("with a JWKS endpoint", () => {
  let server: http.Server;
  let jwksUrl: string;
  let privatePem: string;
  let fetches = 0;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    privatePem = await exportPKCS8(privateKey);
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "key-1", alg: "ES256", use: "sig" }] });
    server = http.createServer((req, res) => {
      fetches += 1;
      if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json" }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("accepts an ES256 token whose kid is in the JWKS", async () => {
    const verifier = createTokenVerifier({ jwksUrl, algorithms: ["ES256"] });
    const { token } = await createTokenIssuer({ privateKey: privatePem, keyId: "key-1", ttlMs: 60_000 }).issue({ sub: "u-4", role: "salon" });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: "u-4", role: "salon" });
    expect(fetches).toBeGreaterThan(0);
  });

  it("refuses a token signed by a key the JWKS does not hold, and HS256 outright", async () => {
    const verifier = createTokenVerifier({ jwksUrl });
    expect(verifier.algorithms).toEqual(["RS256", "ES256"]);
    const stranger = await generateKeyPair("ES256");
    expect(await refusal(verifier, await sign(claims(), stranger.privateKey, { alg: "ES256", kid: "key-1" }))).toBe("invalid_signature");
    expect(await refusal(verifier, await sign(claims(), stranger.privateKey, { alg: "ES256", kid: "unknown" }))).toBe("invalid_signature");
    expect(await refusal(verifier, await sign(claims(), encoder.encode(SECRET)))).toBe("algorithm_not_allowed");
    expect(() => createTokenVerifier({ jwksUrl, algorithms: ["HS256"] })).toThrow(AuthConfigError);
  });
});

describe("from @parley/config", () => {
  it("builds matching verifier and issuer options from JWT_* variables", async () => {
    const config = loadConfig(jwtEnv, { JWT_SECRET: SECRET, JWT_ISSUER: "parley", JWT_AUDIENCE: "parley-api", JWT_CLOCK_TOLERANCE: "45s", ACCESS_TOKEN_TTL: "1h" });
    const verifierOptions = fromConfig(config);
    expect(verifierOptions).toEqual({ secret: SECRET, issuer: "parley", audience: "parley-api", clockToleranceSec: 45 });
    const issuerOptions = issuerOptionsFromConfig(config);
    expect(issuerOptions).toMatchObject({ secret: SECRET, ttlMs: 3_600_000, issuer: "parley", audience: "parley-api" });
    const { token } = await createTokenIssuer(issuerOptions!).issue({ sub: "u-5", role: "admin" });
    await expect(createTokenVerifier(verifierOptions).verify(token)).resolves.toMatchObject({ sub: "u-5", iss: "parley", aud: "parley-api" });
    expect(issuerOptionsFromConfig(loadConfig(jwtEnv, { JWKS_URL: "https://id.example.com/jwks", JWT_ISSUER: "https://id.example.com", JWT_AUDIENCE: "parley" }))).toBeUndefined();
  });
});

describe("the built-in issuer", () => {
  it("sets jti, iat, exp, iss and aud from its clock and id generator", async () => {
    const issuer = createTokenIssuer({
      secret: SECRET,
      ttlMs: 12 * 3600 * 1000,
      issuer: "parley",
      audience: "parley-api",
      now: () => new Date("2030-01-01T00:00:00Z"),
      newId: () => "jti-1",
    });
    const { claims: issued } = await issuer.issue({ sub: "u-6", role: "client" });
    const iat = Date.parse("2030-01-01T00:00:00Z") / 1000;
    expect(issued).toEqual({ sub: "u-6", role: "client", jti: "jti-1", iat, exp: iat + 12 * 3600, iss: "parley", aud: "parley-api" });
  });

  it("uses uuidv7 ids by default, one per token", async () => {
    const issuer = createTokenIssuer({ secret: SECRET, ttlMs: 60_000 });
    const [a, b] = await Promise.all([issuer.issue({ sub: "u", role: "user" }), issuer.issue({ sub: "u", role: "user" })]);
    expect(a.claims.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it("refuses a key that does not fit the algorithm", () => {
    expect(() => createTokenIssuer({ secret: SECRET, algorithm: "RS256", ttlMs: 60_000 })).toThrow(AuthConfigError);
    expect(() => createTokenIssuer({ ttlMs: 60_000 })).toThrow(AuthConfigError);
    expect(() => createTokenIssuer({ secret: SECRET, ttlMs: 0 })).toThrow(AuthConfigError);
  });
});
