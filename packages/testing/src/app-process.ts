import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";

export interface AppProcessOptions {
  /** The app's directory (e.g. apps/api): `node --import tsx src/main.ts` runs there. */
  readonly cwd: string;
  /** Added to the parent's environment; PORT and OPS_PORT are set by this function. */
  readonly env: Record<string, string>;
  /** Names the process in errors and log lines. */
  readonly name: string;
  /** Polled until it answers 200; `http://127.0.0.1:<port>/readyz` unless given. */
  readonly readyUrl?: string;
  /** The port to listen on; a free one unless given. */
  readonly port?: number;
  /** OPS_PORT, where the API and edges serve `/metrics`; a free one unless given. */
  readonly opsPort?: number;
  /** Deadline for readiness; 30 s unless given. */
  readonly readyTimeoutMs?: number;
}

export interface AppProcess {
  readonly name: string;
  readonly port: number;
  /** The child's process id (for /proc readings such as CPU time and RSS). */
  readonly pid: number | undefined;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<OPS_PORT>`: `/metrics` of the API and edges (the worker serves it on its only port, `url`). */
  readonly opsUrl: string;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (SIGTERM unless given) and waits for the exit; SIGKILL after `timeoutMs` (20 s). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Kills the process without warning (SIGKILL) and waits for it to be gone. */
  kill(): Promise<number | null>;
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  output(): string;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies must not leave servers behind.
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

/** A port that was free a moment ago (the OS picks it; the caller binds it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

/** Starts an app as a real child process (`node --import tsx src/main.ts`) and waits until it is ready. */
export async function startAppProcess(options: AppProcessOptions): Promise<AppProcess> {
  installExitHook();
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const opsPort = options.opsPort ?? (await freePort());
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PORT: String(port), OPS_PORT: String(opsPort) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const lines: string[] = [];
  const record = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    if (process.env.PARLEY_TEST_LOGS) process.stderr.write(`[${options.name}] ${text}`);
    lines.push(...text.split("\n").filter((line) => line.length > 0));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout.on("data", record);
  child.stderr.on("data", record);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      running.delete(child);
      exitCode = code;
      resolve(code);
    });
  });
  const output = () => lines.join("\n");

  const stop = async (signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000): Promise<number | null> => {
    if (exitCode !== undefined) return exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const readyUrl = options.readyUrl ?? `${url}/readyz`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exitCode !== undefined) throw new Error(`${options.name} exited with ${String(exitCode)} before it was ready:\n${output()}`);
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop("SIGKILL");
      throw new Error(`${options.name} was not ready within ${options.readyTimeoutMs ?? 30_000} ms (${readyUrl}):\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    name: options.name,
    port,
    pid: child.pid,
    url,
    opsUrl: `http://127.0.0.1:${opsPort}`,
    exited,
    stop,
    kill: () => stop("SIGKILL"),
    output,
  };
}
