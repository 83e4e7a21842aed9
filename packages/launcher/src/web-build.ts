import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { z } from "zod";

export interface WebBuildOptions {
  /** The monorepo root (apps/web and the packages it bundles are read from here). */
  readonly rootDir: string;
  /** Where the build goes; `apps/web/dist` unless given. */
  readonly outDir?: string;
  /** Called with each line vite prints. */
  readonly onLine?: (line: string) => void;
}

export interface WebBuild {
  /** The folder holding index.html and assets/. */
  readonly dir: string;
  /** False when a build of the same sources was already there. */
  readonly rebuilt: boolean;
}

/** Written beside the build: a build whose sources hash the same is reused. */
const STAMP_FILE = ".parley-build.json";
const stamp = z.object({ fingerprint: z.string() });

/** The folders and files whose content decides the bundle (the app and the workspace packages it imports). */
function inputsOf(rootDir: string): string[] {
  const web = path.join(rootDir, "apps", "web");
  return [
    path.join(web, "src"),
    path.join(web, "public"),
    path.join(web, "index.html"),
    path.join(web, "vite.config.ts"),
    path.join(web, "package.json"),
    path.join(rootDir, "packages", "sdk", "src"),
    path.join(rootDir, "packages", "sdk", "package.json"),
    path.join(rootDir, "packages", "protocol", "src"),
    path.join(rootDir, "pnpm-lock.yaml"),
  ];
}

export function webAppExists(rootDir: string): boolean {
  return existsSync(path.join(rootDir, "apps", "web", "index.html"));
}

/** Builds apps/web with Vite unless the output was built from exactly these sources. */
export async function ensureWebBuild(options: WebBuildOptions): Promise<WebBuild> {
  const webDir = path.join(options.rootDir, "apps", "web");
  const dir = options.outDir ?? path.join(webDir, "dist");
  const fingerprint = await fingerprintOf(inputsOf(options.rootDir), options.rootDir);
  await mkdir(path.dirname(dir), { recursive: true });
  if ((await readStamp(dir)) === fingerprint && existsSync(path.join(dir, "index.html"))) return { dir, rebuilt: false };
  // Built beside the target and swapped in, so a server reading the old build (or a second launcher) never sees half a build.
  const fresh = `${dir}.building-${process.pid}-${randomBytes(4).toString("hex")}`;
  const old = `${dir}.old-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await runVite(webDir, fresh, options.onLine ?? (() => undefined));
    await writeFile(path.join(fresh, STAMP_FILE), JSON.stringify({ fingerprint }));
    await rename(dir, old).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
    await rename(fresh, dir);
  } finally {
    await rm(fresh, { recursive: true, force: true });
    await rm(old, { recursive: true, force: true });
  }
  return { dir, rebuilt: true };
}

async function readStamp(dir: string): Promise<string | undefined> {
  try {
    const parsed = stamp.safeParse(JSON.parse(await readFile(path.join(dir, STAMP_FILE), "utf8")));
    return parsed.success ? parsed.data.fingerprint : undefined;
  } catch {
    return undefined; // no build yet
  }
}

async function fingerprintOf(inputs: readonly string[], rootDir: string): Promise<string> {
  const hash = createHash("sha256");
  const visit = async (file: string): Promise<void> => {
    let info;
    try {
      info = await stat(file);
    } catch {
      return; // an optional input (public/) that is absent
    }
    if (info.isDirectory()) {
      const entries = (await readdir(file)).filter((name) => name !== "node_modules").sort();
      for (const name of entries) await visit(path.join(file, name));
      return;
    }
    hash.update(path.relative(rootDir, file)).update("\0").update(await readFile(file)).update("\0");
  };
  for (const input of inputs) await visit(input);
  return hash.digest("hex");
}

/** Runs the app's own Vite (node + its bin script, not pnpm) so the launcher needs no bundler of its own. */
async function runVite(webDir: string, outDir: string, onLine: (line: string) => void): Promise<void> {
  const vitePackage = createRequire(path.join(webDir, "package.json")).resolve("vite/package.json");
  const bin = path.join(path.dirname(vitePackage), "bin", "vite.js");
  const child = spawn(process.execPath, [bin, "build", "--outDir", outDir, "--emptyOutDir", "--logLevel", "warn"], {
    cwd: webDir,
    env: { ...process.env, NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const record = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      lines.push(line);
      onLine(line);
    }
  };
  child.stdout.on("data", record);
  child.stderr.on("data", record);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`building apps/web failed (vite exited with ${String(code)}):\n${lines.slice(-20).join("\n")}`);
}
