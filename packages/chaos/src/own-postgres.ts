import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, freePort, type TestDatabase } from "@parley/testing";
import postgres from "postgres";

const run = promisify(execFile);

/** The suite's PostgreSQL: what it can break, and how. */
export interface ChaosDatabase {
  readonly url: string;
  /**
   * `own-server`: a PostgreSQL cluster of the suite's own (initdb/pg_ctl on a free port), restarted for real.
   * `shared-server`: a database of the suite's own on the shared server, whose backends are terminated instead.
   */
  readonly mode: "own-server" | "shared-server";
  /** Restarts the own server (pg_ctl restart -m fast), or terminates every backend of the suite's database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** An own PostgreSQL server when initdb and pg_ctl are installed (as user postgres when run as root), else the shared one. */
export async function startChaosDatabase(): Promise<ChaosDatabase> {
  const bin = postgresBin();
  if (bin !== undefined) {
    try {
      return await OwnPostgres.start(bin);
    } catch (error) {
      process.stderr.write(`chaos: no own PostgreSQL (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); terminating backends on the shared server instead\n`);
    }
  }
  return sharedDatabase(await createTestDatabase({ migrate, templateKey: migrationsFingerprint() }));
}

function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  const bin = versions.map((version) => path.join(root, version, "bin")).find((dir) => existsSync(path.join(dir, "pg_ctl")));
  return bin;
}

class OwnPostgres implements ChaosDatabase {
  readonly mode = "own-server";
  private closed = false;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    private readonly port: number,
  ) {}

  static async start(bin: string): Promise<OwnPostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "parley-chaos-pg-"));
    const server = new OwnPostgres(bin, dir, await freePort());
    try {
      if (process.getuid?.() === 0) {
        const { stdout } = await run("id", ["-u", "postgres"]);
        const { stdout: gid } = await run("id", ["-g", "postgres"]);
        await chown(dir, Number(stdout.trim()), Number(gid.trim()));
      }
      await server.as("initdb", ["-D", path.join(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
      await server.pgCtl("start");
      const admin = postgres(server.adminUrl, { max: 1, onnotice: () => undefined });
      try {
        await admin.unsafe(`CREATE DATABASE parley_chaos`);
      } finally {
        await admin.end();
      }
      await migrate(server.url);
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/parley_chaos`;
  }

  private get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async restart(): Promise<void> {
    await this.pgCtl("restart", ["-m", "fast"]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pgCtl("stop", ["-m", "immediate"]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private pgCtl(action: string, extra: readonly string[] = []): Promise<unknown> {
    const data = path.join(this.dir, "data");
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    return this.as("pg_ctl", ["-D", data, "-l", path.join(this.dir, "server.log"), "-w", "-t", "60", "-o", options, ...extra, action]);
  }

  /** A PostgreSQL binary, as user postgres when this process is root (the server refuses to run as root). */
  private async as(program: string, args: readonly string[]): Promise<unknown> {
    const binary = path.join(this.bin, program);
    if (process.getuid?.() === 0) return run("runuser", ["-u", "postgres", "--", binary, ...args], { cwd: this.dir });
    return run(binary, [...args], { cwd: this.dir });
  }
}

function sharedDatabase(database: TestDatabase): ChaosDatabase {
  const admin = new URL(database.url);
  admin.pathname = "/postgres";
  return {
    url: database.url,
    mode: "shared-server",
    restart: async () => {
      const sql = postgres(admin.toString(), { max: 1, onnotice: () => undefined });
      try {
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database.name} AND pid <> pg_backend_pid()`;
      } finally {
        await sql.end();
      }
    },
    close: () => database.drop(),
  };
}
