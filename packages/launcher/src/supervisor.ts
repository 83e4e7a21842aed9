import { setTimeout as sleep } from "node:timers/promises";
import { answersReady, type AppInstance } from "./apps";
import type { AppName } from "./launcher-env";
import { describeExit, type ExitStatus, type ManagedProcess } from "./processes";

export interface RestartPolicy {
  /** true: an app that exits on its own stops the whole cluster (CI); false: it is restarted with backoff. */
  readonly failFast: boolean;
  /** Delay before the first restart; doubled after each crash that follows too soon, up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** An app that ran this long before crashing counts as healthy: its restart waits `initialDelayMs` again. */
  readonly stableAfterMs: number;
}

export type AppState = "starting" | "running" | "restarting" | "stopped";

/** One app of the cluster as the launcher supervises it: the current process changes with every restart. */
export interface ClusterApp {
  /** `api`, `edge-1`, …, `worker`: its NODE_ID and the prefix of its output lines. */
  readonly name: string;
  readonly app: AppName;
  /** `http://127.0.0.1:<PORT>` (`/readyz`, the API's REST, an edge's `/v1/ws`). */
  readonly url: string;
  /** `http://127.0.0.1:<OPS_PORT>` where the API and edges serve `/metrics`; the worker's is `url`. */
  readonly opsUrl: string;
  /** The current process id (it also leads the app's process group); undefined while restarting or stopped. */
  readonly pid: number | undefined;
  readonly state: AppState;
  /** How many times the launcher restarted it after it exited on its own. */
  readonly restarts: number;
  /**
   * Sends `signal` to the app's process group (SIGKILL, SIGTERM, SIGSTOP, SIGCONT, …). An exit it causes is handled
   * like a crash: restarted with backoff, or the whole cluster stops under LAUNCHER_FAIL_FAST.
   */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the pid of the next process the launcher starts for this app (after a crash or a signal). */
  nextStart(): Promise<number>;
  /** Resolves once the current process answers `GET /readyz` with 200; rejects after `timeoutMs` (60 s). */
  ready(timeoutMs?: number): Promise<void>;
}

interface SupervisorHooks {
  readonly spawn: () => ManagedProcess;
  readonly say: (text: string, kind?: "stdout" | "stderr") => void;
  /** Called under fail-fast when the app exits on its own. */
  readonly fail: (reason: string) => void;
  readonly now?: () => number;
}

/** Keeps one app running: starts it, restarts it after an unexpected exit with exponential backoff, stops it. */
export class SupervisedApp implements ClusterApp {
  readonly name: string;
  readonly app: AppName;
  readonly url: string;
  readonly opsUrl: string;
  private current: ManagedProcess | undefined;
  private startedAt = 0;
  private attempt = 0;
  private restartCount = 0;
  private stateNow: AppState = "starting";
  private stopping: Promise<void> | undefined;
  private readonly halt = new AbortController();
  private waiters: ((pid: number) => void)[] = [];
  /** Off until the cluster was first ready: an app that dies while starting has a problem a restart will not fix. */
  private restartable = false;
  private readonly now: () => number;

  constructor(
    instance: AppInstance,
    private readonly policy: RestartPolicy,
    private readonly hooks: SupervisorHooks,
  ) {
    this.name = instance.name;
    this.app = instance.app;
    this.url = `http://127.0.0.1:${instance.port}`;
    this.opsUrl = `http://127.0.0.1:${instance.opsPort ?? instance.port}`;
    this.now = hooks.now ?? Date.now;
  }

  get pid(): number | undefined {
    return this.current?.running ? this.current.pid : undefined;
  }

  get state(): AppState {
    return this.stateNow;
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** Starts the first process. */
  start(): void {
    this.launch();
  }

  /** From now on an unexpected exit is restarted (unless fail-fast); before, it stops the cluster. */
  enableRestarts(): void {
    this.restartable = true;
  }

  signal(signal: NodeJS.Signals): void {
    this.current?.signal(signal);
  }

  nextStart(): Promise<number> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = this.now() + timeoutMs;
    for (;;) {
      if (this.stopping) throw new Error(`${this.name} is stopping`);
      if (this.stateNow === "running" && (await answersReady(Number(new URL(this.url).port)))) return;
      if (this.now() > deadline) throw new Error(`${this.name} was not ready within ${Math.round(timeoutMs / 1000)} s`);
      await sleep(200);
    }
  }

  /** SIGTERM (SIGKILL after `graceMs`) and no more restarts. Safe to call twice. */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.halt.abort(new Error("stopping"));
      await this.current?.stop(graceMs);
      this.stateNow = "stopped";
    })();
    return this.stopping;
  }

  private launch(): void {
    const child = this.hooks.spawn();
    this.current = child;
    this.startedAt = this.now();
    this.stateNow = "running";
    this.hooks.say(`${this.name} started (pid ${child.pid ?? "none"})`);
    const pid = child.pid;
    if (pid !== undefined) for (const waiter of this.waiters.splice(0)) waiter(pid);
    void child.exited.then((status) => {
      if (this.stopping === undefined && !child.stopRequested) void this.crashed(status);
    });
  }

  private async crashed(status: ExitStatus): Promise<void> {
    if (this.policy.failFast) {
      this.hooks.fail(`${this.name} ${describeExit(status)} unexpectedly; stopping everything`);
      return;
    }
    if (!this.restartable) {
      this.hooks.fail(`${this.name} ${describeExit(status)} before the cluster was ready; stopping everything`);
      return;
    }
    if (this.now() - this.startedAt >= this.policy.stableAfterMs) this.attempt = 0;
    const delay = Math.min(this.policy.maxDelayMs, this.policy.initialDelayMs * 2 ** this.attempt);
    this.attempt++;
    this.restartCount++;
    this.stateNow = "restarting";
    this.hooks.say(`${this.name} ${describeExit(status)} unexpectedly; restarting it in ${formatDelay(delay)} (restart ${this.restartCount})`, "stderr");
    try {
      await sleep(delay, undefined, { signal: this.halt.signal });
    } catch {
      return; // the cluster is stopping
    }
    this.launch();
    // Say when it is back, so whoever watches the output knows when clients can reach it again.
    this.ready(60_000).then(
      () => this.hooks.say(`${this.name} is ready again`),
      () => undefined,
    );
  }
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
