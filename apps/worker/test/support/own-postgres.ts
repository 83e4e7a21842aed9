import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "@parley/testing";

const run = promisify(execFile);
const SERVER_ROOT = "/usr/lib/postgresql";

/** The newest installed PostgreSQL's bin folder (Debian layout), or undefined. */
export function postgresBinaries(): string | undefined {
  if (!existsSync(SERVER_ROOT)) return undefined;
  const versions = readdirSync(SERVER_ROOT)
    .filter((version) => existsSync(path.join(SERVER_ROOT, version, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(SERVER_ROOT, versions[0], "bin");
}

/**
 * A PostgreSQL server of one test's own (initdb into a temporary folder, a free port), so it can be restarted
 * without touching the shared one. As root it runs as the `postgres` system user (the server refuses root).
 */
export class OwnPostgres {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly asRoot: boolean,
  ) {}

  /** `postgres://postgres@127.0.0.1:<port>/<database>` */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  static async start(): Promise<OwnPostgres> {
    const bin = postgresBinaries();
    if (bin === undefined) throw new Error(`no PostgreSQL server binaries under ${SERVER_ROOT}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), "parley-pg-"));
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const { stdout } = await run("id", ["-u", "postgres"]);
      const { stdout: gid } = await run("id", ["-g", "postgres"]);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await chmod(dir, 0o700);
    const server = new OwnPostgres(bin, dir, await freePort(), asRoot);
    await server.ctl("initdb", ["-D", server.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    await server.pgCtl("start");
    return server;
  }

  /** A fast shutdown (every connection ended) and a start on the same port, as `pg_ctlcluster … restart` does. */
  async restart(): Promise<void> {
    await this.pgCtl("restart", ["-m", "fast"]);
  }

  /** Stops the server at once and deletes its folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (existsSync(this.data)) await this.ctl("pg_ctl", ["-D", this.data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private get data(): string {
    return path.join(this.dir, "data");
  }

  private pgCtl(action: "start" | "restart", extra: readonly string[] = []): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    return this.ctl("pg_ctl", ["-D", this.data, "-o", options, "-l", path.join(this.dir, "server.log"), "-w", ...extra, action]);
  }

  private async ctl(program: string, args: readonly string[]): Promise<void> {
    const file = path.join(this.bin, program);
    if (this.asRoot) await run("runuser", ["-u", "postgres", "--", file, ...args], { cwd: this.dir });
    else await run(file, [...args], { cwd: this.dir });
  }
}
