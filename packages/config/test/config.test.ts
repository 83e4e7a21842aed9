import { describe, expect, it } from "vitest";
import { ConfigError, apiEnv, edgeEnv, loadConfig, parseDuration, redactConfig, workerEnv } from "../src";

const secret = "s3cr3t-value-that-is-long-enough-for-hs256!";

function problemsOf(action: () => unknown): { variable: string; reason: string }[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("durations", () => {
  it.each([
    ["500", 500],
    ["500ms", 500],
    ["2s", 2_000],
    ["5m", 300_000],
    ["12h", 43_200_000],
    ["90d", 7_776_000_000],
    ["1.5s", 1_500],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "soon", "5 minutes", "-2s", "2w"])("%j is refused", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("loading config", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig(apiEnv, { JWT_SECRET: secret });
    expect(config.PORT).toBe(3000);
    expect(config.PARLEY_POLICY).toBe("open");
    expect(config.MESSAGE_RATE_LIMIT).toBe(100);
    expect(config.EMAIL_DELAY).toBe(120_000);
    const edge = loadConfig(edgeEnv, { JWT_SECRET: secret });
    expect(edge.MAX_CONNECTIONS_PER_USER).toBe(5);
    expect(edge.ALLOWED_ORIGINS).toEqual([]);
    const worker = loadConfig(workerEnv, {});
    expect(worker.ARCHIVE_AFTER).toBe(90 * 86_400_000);
  });

  it("names a missing key source without printing anything secret", () => {
    const problems = problemsOf(() => loadConfig(apiEnv, {}));
    expect(problems).toEqual([{ variable: "JWT_SECRET", reason: "set exactly one of JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL" }]);
  });

  it("names every invalid variable and never its value", () => {
    const env = {
      JWT_SECRET: "tooshort-secret-value",
      DATABASE_URL: "mysql://root:hunter2@db/parley",
      PORT: "eighty",
      EMAIL_DELAY: "soon-ish",
      LOG_LEVEL: "chatty",
    };
    let error: unknown;
    try {
      loadConfig(apiEnv, env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    for (const name of ["JWT_SECRET", "DATABASE_URL", "PORT", "EMAIL_DELAY", "LOG_LEVEL"]) expect(text).toContain(name);
    for (const value of Object.values(env)) expect(text).not.toContain(value);
    expect(text).not.toContain("hunter2");
  });

  it("takes INTERNAL_SECRET on the API and edges only when it is at least 32 characters, and leaves it unset by default", () => {
    const internal = "an-internal-channel-secret-of-40-chars!!";
    expect(loadConfig(apiEnv, { JWT_SECRET: secret, INTERNAL_SECRET: internal }).INTERNAL_SECRET).toBe(internal);
    expect(loadConfig(edgeEnv, { JWT_SECRET: secret, INTERNAL_SECRET: internal }).INTERNAL_SECRET).toBe(internal);
    expect(loadConfig(edgeEnv, { JWT_SECRET: secret }).INTERNAL_SECRET).toBeUndefined();
    for (const schema of [apiEnv, edgeEnv]) {
      expect(problemsOf(() => loadConfig(schema, { JWT_SECRET: secret, INTERNAL_SECRET: "short" }))).toEqual([
        { variable: "INTERNAL_SECRET", reason: "must be at least 32 characters" },
      ]);
    }
    expect(redactConfig({ INTERNAL_SECRET: internal })).toEqual({ INTERNAL_SECRET: "[redacted]" });
  });

  it("treats empty strings as unset", () => {
    expect(loadConfig(edgeEnv, { JWT_SECRET: secret, PORT: "" }).PORT).toBe(3001);
  });

  it("refuses two key sources at once", () => {
    const problems = problemsOf(() => loadConfig(edgeEnv, { JWT_SECRET: secret, JWKS_URL: "https://idp.example/jwks", JWT_ISSUER: "https://idp.example", JWT_AUDIENCE: "parley" }));
    expect(problems.map((p) => p.variable)).toEqual(["JWT_SECRET"]);
  });

  it.each([
    ["api", apiEnv],
    ["edge", edgeEnv],
  ] as const)("refuses JWKS_URL without JWT_ISSUER and JWT_AUDIENCE on the %s", (_node, schema) => {
    const problems = problemsOf(() => loadConfig(schema, { JWKS_URL: "https://idp.example/jwks" }));
    expect(problems.map((p) => p.variable).sort()).toEqual(["JWT_AUDIENCE", "JWT_ISSUER"]);
    expect(problems[0]?.reason).toMatch(/required with JWKS_URL/);
    expect(loadConfig(schema, { JWKS_URL: "https://idp.example/jwks", JWT_ISSUER: "https://idp.example", JWT_AUDIENCE: "parley" }).JWKS_URL).toBe("https://idp.example/jwks");
  });

  it("trusts only loopback proxies on the API and none on the edge by default", () => {
    expect(loadConfig(apiEnv, { JWT_SECRET: secret }).TRUST_PROXY).toBe("loopback");
    expect(loadConfig(edgeEnv, { JWT_SECRET: secret }).TRUST_PROXY).toBe(false);
  });

  it("parses lists and durations", () => {
    const config = loadConfig(edgeEnv, { JWT_SECRET: secret, ALLOWED_ORIGINS: "https://a.example, https://b.example,", HEARTBEAT_MS: "10s" });
    expect(config.ALLOWED_ORIGINS).toEqual(["https://a.example", "https://b.example"]);
    expect(config.HEARTBEAT_MS).toBe(10_000);
  });
});

describe("printing config", () => {
  it("masks secrets and URL passwords", () => {
    const printed = JSON.stringify(
      redactConfig({ JWT_SECRET: secret, DATABASE_URL: "postgres://app:hunter2@db:5432/parley", PORT: 3000 }),
    );
    expect(printed).not.toContain(secret);
    expect(printed).not.toContain("hunter2");
    expect(printed).toContain("db:5432/parley");
  });
});
