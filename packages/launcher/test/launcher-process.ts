import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { waitFor } from "@parley/testing";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** The real launcher (`node --import tsx src/main.ts`) as a child process, its output collected line by line. */
export class LauncherProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: packageDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) readline.createInterface({ input: stream }).on("line", (line) => this.lines.push(line));
    }
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** Waits for a line matching `pattern`; fails early when the launcher exits first. */
  async waitForLine(pattern: RegExp | string, timeout: number): Promise<string> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    return waitFor(
      () => {
        const line = this.lines.find((candidate) => (typeof pattern === "string" ? candidate === pattern : pattern.test(candidate)));
        if (line !== undefined) return line;
        if (exited) throw new Error(`the launcher exited before printing ${String(pattern)}:\n${this.lines.join("\n")}`);
        return undefined;
      },
      { timeout, interval: 50, message: `no line ${String(pattern)} in:\n${this.lines.join("\n")}` },
    );
  }

  /** Sends `signal` and resolves with the exit code, failing after `timeout` (then SIGKILLs it). */
  async stop(signal: NodeJS.Signals, timeout: number): Promise<number | null> {
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(new Error(`the launcher did not exit within ${timeout} ms after ${signal}:\n${this.lines.join("\n")}`));
      }, timeout);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Last resort in afterEach. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

export { freeClusterPorts as clusterPorts, type ClusterPorts } from "../src/ports";

/** A data folder the embedded cluster's `postgres` user can enter even when tests run as root. */
export async function temporaryDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "parley-launcher-"));
  await chmod(dir, 0o755);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The environment of the test process without the variables the launcher would take as given. */
export function baseEnv(): NodeJS.ProcessEnv {
  const given = new Set(["DATABASE_URL", "REDIS_URL", "SMTP_URL", "JWT_SECRET", "JWT_PUBLIC_KEY", "JWKS_URL", "INTERNAL_SECRET", "PORT", "NODE_ID"]);
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !given.has(key) && !key.startsWith("PARLEY_")));
}

export function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
