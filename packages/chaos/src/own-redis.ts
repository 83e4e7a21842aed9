import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort, waitFor } from "@parley/testing";
import { Redis } from "ioredis";

/**
 * A redis-server of the suite's own, on a free port, with an append-only file so a restart can keep or lose the
 * data. Never the shared 127.0.0.1:6379: the suite stops and starts this one.
 */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private closed = false;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), await mkdtemp(path.join(os.tmpdir(), "parley-chaos-redis-")));
    await redis.spawn();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Stops the server (SIGTERM: it writes its append-only file) and starts it again on the same port. Without
   * `keepData` its files are deleted in between: the restart of a Redis without persistence, every stream gone.
   */
  async restart(options: { keepData: boolean }): Promise<void> {
    await this.stopServer();
    if (!options.keepData) {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true });
    }
    await this.spawn();
  }

  /** Stops the server and deletes its files. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopServer();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async spawn(): Promise<void> {
    const child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"],
      { stdio: "ignore" },
    );
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
        const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        client.on("error", () => undefined); // refused until it listens: the poll retries
        try {
          await client.connect();
          // Loading the append-only file answers LOADING until done.
          await client.ping();
          return true;
        } finally {
          client.disconnect();
        }
      },
      { timeout: 20_000, interval: 100, message: `redis-server on port ${this.port} answers PING` },
    );
  }

  private async stopServer(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}
