/**
 * The load generator's main-thread side: worker threads (load-worker.ts) each own a share of the groups and
 * of the idle connections; this class hands out the work, starts every step at the same instant and merges
 * what the threads measured.
 */
import { Worker } from "node:worker_threads";
import { nowMs, type ClientSpec, type ConnectOutcome, type GroupSpec, type ProtocolKind, type StepOutcome, type WorkerCommand, type WorkerReply } from "./workload";

const WORKER_URL = new URL("./load-worker.ts", import.meta.url);
const TSX_API = import.meta.resolve("tsx/esm/api");
/** Longest a worker may take to answer anything but a step (connecting 10,000 clients included). */
const COMMAND_TIMEOUT_MS = 300_000;

export interface MergedStep extends Omit<StepOutcome, "latenciesMs" | "maxScheduleLagMs" | "eventLoopUtilization"> {
  readonly latenciesMs: Float64Array;
  readonly maxScheduleLagMs: number;
  /** The busiest generator thread's event loop utilisation. */
  readonly maxEventLoopUtilization: number;
}

class LoadThread {
  private readonly worker: Worker;
  private waiting: { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void } | undefined;
  private exitedWith: string | undefined;

  constructor(kind: ProtocolKind, workerId: number) {
    // A worker does not inherit the parent's loader hooks: register tsx in the thread, then load the TypeScript entry.
    const bootstrap = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
    this.worker = new Worker(bootstrap, { eval: true, workerData: { kind, workerId } });
    this.worker.on("message", (reply: WorkerReply) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      if (reply.op === "failed") waiting?.reject(new Error(`load generator thread ${workerId} failed: ${reply.message}`));
      else waiting?.resolve(reply);
    });
    const die = (why: string) => {
      this.exitedWith = why;
      this.waiting?.reject(new Error(`load generator thread ${workerId}: ${why}`));
      this.waiting = undefined;
    };
    this.worker.on("error", (error) => die(error.stack ?? error.message));
    this.worker.on("exit", (code) => die(`exited with ${code}`));
  }

  ask(command: WorkerCommand, timeoutMs = COMMAND_TIMEOUT_MS): Promise<WorkerReply> {
    if (this.exitedWith !== undefined) return Promise.reject(new Error(`load generator thread is gone: ${this.exitedWith}`));
    if (this.waiting) return Promise.reject(new Error("one command at a time"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`load generator thread did not answer ${command.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.worker.postMessage(command);
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

function split<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => out[i % parts]!.push(item));
  return out;
}

function mergeConnects(outcomes: readonly ConnectOutcome[]): ConnectOutcome {
  return {
    connected: outcomes.reduce((sum, o) => sum + o.connected, 0),
    failed: outcomes.reduce((sum, o) => sum + o.failed, 0),
    firstError: outcomes.find((o) => o.firstError !== undefined)?.firstError,
    ms: Math.max(...outcomes.map((o) => o.ms)),
  };
}

function expect<K extends WorkerReply["op"]>(reply: WorkerReply, op: K): Extract<WorkerReply, { op: K }> {
  if (reply.op !== op) throw new Error(`load generator thread answered ${reply.op}, expected ${op}`);
  return reply as Extract<WorkerReply, { op: K }>;
}

export class LoadGenerator {
  private closed = false;

  private constructor(private readonly threads: readonly LoadThread[]) {}

  static start(kind: ProtocolKind, threads: number): LoadGenerator {
    return new LoadGenerator(Array.from({ length: Math.max(1, threads) }, (_, i) => new LoadThread(kind, i)));
  }

  /** Connects every member of every group (each thread owns whole groups); `ms` is the slowest thread's time. */
  async connectGroups(groups: readonly GroupSpec[], concurrencyPerThread: number): Promise<ConnectOutcome> {
    const shares = split(groups, this.threads.length);
    const replies = await Promise.all(this.threads.map((thread, i) => thread.ask({ op: "connect-groups", groups: shares[i] ?? [], concurrency: concurrencyPerThread })));
    return mergeConnects(replies.map((reply) => expect(reply, "connected").outcome));
  }

  async connectIdle(clients: readonly ClientSpec[], concurrencyPerThread: number): Promise<ConnectOutcome> {
    const shares = split(clients, this.threads.length);
    const replies = await Promise.all(this.threads.map((thread, i) => thread.ask({ op: "connect-idle", clients: shares[i] ?? [], concurrency: concurrencyPerThread })));
    return mergeConnects(replies.map((reply) => expect(reply, "connected").outcome));
  }

  async closeIdle(): Promise<void> {
    await Promise.all(this.threads.map(async (thread) => expect(await thread.ask({ op: "close-idle" }), "idle-closed")));
  }

  /**
   * Runs one step on every thread: `rate` messages/s in total for `durationMs`, then up to `drainMs` for the
   * deliveries still on their way. Returns when every thread has counted its step, with `startAt` (absolute ms).
   */
  async step(step: number, rate: number, durationMs: number, drainMs: number): Promise<{ startAt: number; merged: MergedStep }> {
    const startAt = nowMs() + 200;
    const perThread = rate / this.threads.length;
    const replies = await Promise.all(
      this.threads.map((thread) => thread.ask({ op: "step", step, rate: perThread, startAt, durationMs, drainMs }, durationMs + drainMs + 60_000)),
    );
    const outcomes = replies.map((reply) => expect(reply, "step-done").outcome);
    const sum = (pick: (o: StepOutcome) => number) => outcomes.reduce((total, o) => total + pick(o), 0);
    const codes: Record<string, number> = {};
    for (const o of outcomes) for (const [code, n] of Object.entries(o.sendErrorCodes)) codes[code] = (codes[code] ?? 0) + n;
    const latencies = new Float64Array(sum((o) => o.latenciesMs.length));
    let offset = 0;
    for (const o of outcomes) {
      latencies.set(o.latenciesMs, offset);
      offset += o.latenciesMs.length;
    }
    return {
      startAt,
      merged: {
        sent: sum((o) => o.sent),
        sendErrors: sum((o) => o.sendErrors),
        sendErrorCodes: codes,
        expected: sum((o) => o.expected),
        delivered: sum((o) => o.delivered),
        deliveredInWindow: sum((o) => o.deliveredInWindow),
        duplicates: sum((o) => o.duplicates),
        lost: sum((o) => o.lost),
        late: sum((o) => o.late),
        foreign: sum((o) => o.foreign),
        closed: sum((o) => o.closed),
        latenciesMs: latencies,
        maxScheduleLagMs: Math.max(...outcomes.map((o) => o.maxScheduleLagMs)),
        maxEventLoopUtilization: Math.max(...outcomes.map((o) => o.eventLoopUtilization)),
      },
    };
  }

  /** Closes every client and ends the threads. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.threads.map((thread) => thread.ask({ op: "close" }, 30_000).catch(() => undefined)));
    await Promise.all(this.threads.map((thread) => thread.terminate()));
  }
}
