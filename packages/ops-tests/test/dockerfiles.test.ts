import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { App } from "./support/metric-contract";
import { readRepoFile, repoPath } from "./support/repo";

const APPS: readonly App[] = ["api", "edge", "worker"];

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions in order, continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword = "", ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    });
}

/** The LTS lines of Node.js as of this repository (engines allows < 25). */
const LTS_SLIM = /^node:(22|24)(\.\d+)*-(bookworm-|trixie-)?slim$/;

describe("Dockerfile (the one image recipe of the Node apps, ARG APP)", () => {
  const text = readRepoFile("Dockerfile");
  const steps = instructions(text);
  const stages = steps.filter((s) => s.keyword === "FROM");
  const runtimeIndex = steps.findLastIndex((s) => s.keyword === "FROM");
  const build = steps.slice(0, runtimeIndex);
  const runtime = steps.slice(runtimeIndex);
  const arg = steps.find((s) => s.keyword === "ARG" && s.args.startsWith("NODE_IMAGE="));

  it("is the only one: the apps have no Dockerfile of their own (the web app's nginx image aside)", () => {
    for (const app of APPS) expect(existsSync(repoPath("apps", app, "Dockerfile")), `apps/${app}/Dockerfile`).toBe(false);
  });

  it("builds in one stage and runs from a fresh Node LTS slim stage", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(arg?.args.split("=")[1]).toMatch(LTS_SLIM);
    for (const stage of stages) expect(stage.args).toMatch(/^\$\{NODE_IMAGE\} AS \w+$/);
  });

  it("takes the app as a build argument, refuses any other than the three, and deploys only its production dependencies from the frozen lockfile", () => {
    expect(build.some((s) => s.keyword === "ARG" && s.args === "APP")).toBe(true);
    const run = build.filter((s) => s.keyword === "RUN").map((s) => s.args);
    expect(run.some((r) => r.includes('case "${APP}" in api|edge|worker)') && r.includes("exit 1"))).toBe(true);
    expect(run.some((r) => r.includes("--frozen-lockfile"))).toBe(true);
    expect(run.some((r) => /pnpm --filter "@parley\/\$\{APP\}" deploy .*--prod .*\/out$/.test(r))).toBe(true);
    expect(runtime.filter((s) => s.keyword === "COPY").map((s) => s.args)).toEqual(["--from=build /out ./"]);
  });

  it("runs as a numeric non-root user, exposes the PORT it is built with and health-checks it without curl", () => {
    const user = runtime.find((s) => s.keyword === "USER")?.args ?? "root";
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(runtime.some((s) => s.keyword === "ARG" && /^PORT=\d+$/.test(s.args))).toBe(true);
    expect(runtime.find((s) => s.keyword === "EXPOSE")?.args).toBe("${PORT}");
    expect(runtime.find((s) => s.keyword === "ENV")?.args).toContain("PORT=${PORT}");
    const health = runtime.find((s) => s.keyword === "HEALTHCHECK")?.args ?? "";
    expect(health).toContain('CMD ["node", "-e",');
    expect(health).toContain("process.env.PORT");
    expect(health).toContain("/healthz");
  });

  it.each(APPS)("keeps what the CMD needs in the production dependencies of %s that pnpm deploy --prod copies", (app) => {
    const manifest = z.object({ dependencies: z.record(z.string(), z.string()) }).parse(JSON.parse(readRepoFile("apps", app, "package.json")));
    expect(Object.keys(manifest.dependencies)).toContain("tsx");
    // The migration runner ships in the API image (compose's `migrate` service, the Kubernetes Job).
    if (app === "api") expect(Object.keys(manifest.dependencies)).toContain("@parley/db");
    // Every app's entry point is where the CMD looks for it.
    expect(existsSync(repoPath("apps", app, "src", "main.ts"))).toBe(true);
  });

  it("starts node itself as PID 1 (exec form, no shell), so SIGTERM reaches the app", () => {
    const cmd = runtime.filter((s) => s.keyword === "CMD");
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]?.args ?? "null")).toEqual(["node", "--import", "tsx", "src/main.ts"]);
    expect(runtime.some((s) => s.keyword === "ENTRYPOINT")).toBe(false);
    expect(runtime.find((s) => s.keyword === "STOPSIGNAL")?.args ?? "SIGTERM").toBe("SIGTERM");
  });
});

describe(".dockerignore", () => {
  const ignored = readRepoFile(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));

  it("keeps dependencies, git history, secrets and tests out of the build context", () => {
    expect(ignored).toEqual(expect.arrayContaining(["**/node_modules", ".git", ".env", "**/test"]));
  });

  it("keeps what the build needs: the lockfile, the workspace manifest, every package.json and the sources", () => {
    for (const needed of ["pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", "package.json", "apps", "packages", "src"]) {
      expect(ignored.some((pattern) => pattern === needed || pattern === `**/${needed}`), needed).toBe(false);
    }
  });
});
