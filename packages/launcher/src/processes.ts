import { spawn, type ChildProcess } from "node:child_process";
import readline from "node:readline";
import type { Output } from "./output";

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  readonly error?: Error;
}

export interface SpawnOptions {
  /** Prefix of every output line and the name in messages: `api`, `edge-1`, `redis`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly output: Output;
  /** Lines passing this filter are printed; all are kept in `recentOutput` for error reports. Default: all. */
  readonly print?: (line: string) => boolean;
}

const RECENT_LINES = 30;
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

/** A child process in its own process group, its output prefixed line by line; stopped with SIGTERM then SIGKILL. */
export class ManagedProcess {
  readonly name: string;
  /** Resolves once the process has exited (or failed to start). */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private readonly recent: string[] = [];
  private status: ExitStatus | undefined;
  private stopping: Promise<ExitStatus> | undefined;

  constructor(options: SpawnOptions) {
    this.name = options.name;
    installExitHook();
    options.output.register(options.name);
    // Own process group: Ctrl-C in a terminal reaches only the launcher, which then stops children in order.
    this.child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    live.add(this);
    const print = options.print ?? (() => true);
    const follow = (stream: NodeJS.ReadableStream | null, kind: "stdout" | "stderr") => {
      if (!stream) return;
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        this.remember(line);
        if (print(line)) options.output.line(this.name, line, kind);
      });
    };
    follow(this.child.stdout, "stdout");
    follow(this.child.stderr, "stderr");
    this.exited = new Promise((resolve) => {
      const finish = (status: ExitStatus) => {
        if (this.status) return;
        this.status = status;
        live.delete(this);
        resolve(status);
      };
      this.child.once("exit", (code, signal) => finish({ code, signal }));
      this.child.once("error", (error) => {
        // 'error' without a pid means it never started; otherwise a failed kill, which 'exit' will follow.
        if (this.child.pid === undefined) finish({ code: null, signal: null, error });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  /** Whether stop() was called: an exit after it is expected, any other exit is a failure. */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** The last lines the process wrote, for error messages. */
  get recentOutput(): readonly string[] {
    return this.recent;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. Safe to call twice; resolves with the exit status. */
  stop(graceMs = 10_000): Promise<ExitStatus> {
    this.stopping ??= this.terminate(graceMs);
    return this.stopping;
  }

  /** SIGKILL to the whole process group, now. */
  kill(): void {
    this.signal("SIGKILL");
  }

  private async terminate(graceMs: number): Promise<ExitStatus> {
    if (this.status) return this.status;
    this.signal("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== "timeout") return first;
    this.signal("SIGKILL");
    return this.exited;
  }

  /** Sends `signal` to the whole process group (the app and anything it spawned); nothing once it has exited. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || this.status) return;
    try {
      process.kill(-pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }

  private remember(line: string): void {
    this.recent.push(line);
    if (this.recent.length > RECENT_LINES) this.recent.shift();
  }
}

export function describeExit(status: ExitStatus): string {
  if (status.error) return `could not start (${status.error.message})`;
  if (status.signal) return `was killed by ${status.signal}`;
  return `exited with code ${status.code ?? "unknown"}`;
}

/** Last resort when the launcher itself dies: children in their own groups would otherwise outlive it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of live) child.kill();
  });
}
