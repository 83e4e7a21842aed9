import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig, redactUrl } from "@parley/config";
import { ensureDatabase, migrate } from "@parley/db";
import { discoverApps, planInstances, waitUntilReady, type AppInstance } from "./apps";
import { printSettings, printUrls, type Setting } from "./cluster-report";
import { KNOWN_VARIABLES, localDefaults, localJwtSecret } from "./defaults";
import { launcherEnv, type LauncherConfig } from "./launcher-env";
import type { Output } from "./output";
import { isPortFree } from "./ports";
import { ManagedProcess } from "./processes";
import { resolvePostgres } from "./services/postgres";
import { resolveRedis } from "./services/redis";
import { ServiceError, type ResolvedService } from "./services/service";
import { resolveSmtp } from "./services/smtp";
import { ensureWebBuild, webAppExists } from "./web-build";
import { SupervisedApp, type ClusterApp } from "./supervisor";
import { startWebServer } from "./web-server";

export interface StartOptions {
  /** The environment to read and to pass on to every app (usually process.env). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The monorepo root: apps/ is looked up here, `.data/` is kept here. */
  readonly rootDir: string;
  readonly log: Output;
  /** Aborting while starting stops whatever was started so far, then rejects with the abort reason. */
  readonly signal?: AbortSignal;
}

export interface ClusterUrls {
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly smtpUrl: string;
  /** The SMTP catcher's inbox (HTML at `/`, JSON at `/api/messages`) when the launcher runs one. */
  readonly inbox: string | undefined;
  readonly api: string | undefined;
  /** WebSocket endpoints, one per edge: `ws://127.0.0.1:3001/v1/ws`. */
  readonly edges: readonly string[];
  readonly worker: string | undefined;
  /** The web app (apps/web), served by the launcher, when it exists and the API runs. */
  readonly web: string | undefined;
  readonly metrics: readonly string[];
}

export interface Cluster {
  readonly urls: ClusterUrls;
  /**
   * Resolves once every started app answers `GET /readyz` with 200 (`parley: ready` is printed then). Rejects when
   * that takes longer than PARLEY_READY_TIMEOUT or the cluster stops first; the cluster then stops itself.
   */
  readonly ready: Promise<void>;
  /** Resolves with the exit code once everything has stopped: 0 after stop(), 1 after a failure. */
  readonly stopped: Promise<number>;
  /** Every app the launcher runs, in start order (api, edge-1, …, worker), each with its current pid and signal(). */
  readonly apps: readonly ClusterApp[];
  /** The app named `name` (`api`, `edge-2`, `worker`); throws for a name the cluster does not run. */
  app(name: string): ClusterApp;
  /** SIGTERM to the apps (SIGKILL after 10 s), then stops the services the launcher started. Safe to call twice. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;
/** An app up this long before it crashes is restarted after the initial delay again. */
const STABLE_AFTER_MS = 60_000;

/** Finds or starts Postgres, Redis and SMTP, migrates, starts every app there is and watches them. */
export async function startCluster(options: StartOptions): Promise<Cluster> {
  const { env, rootDir, log } = options;
  const config = loadConfig(launcherEnv, env);
  log.register("parley");
  const say = (text: string) => log.line("parley", text);
  const dataDir = path.resolve(rootDir, config.PARLEY_DATA_DIR ?? ".data");
  const started: ResolvedService[] = [];
  const checkpoint = () => options.signal?.throwIfAborted();

  try {
    const [database, redis, smtp] = await startAll(started, [
      () =>
        resolvePostgres({
          url: config.DATABASE_URL,
          localUrl: config.PARLEY_LOCAL_PG_URL,
          databaseName: config.PARLEY_LOCAL_DB_NAME ?? databaseNameOf(config.PARLEY_LOCAL_PG_URL),
          embeddedDir: path.join(dataDir, "postgres"),
          embeddedPort: config.PARLEY_EMBEDDED_PG_PORT,
          output: log,
        }),
      () =>
        resolveRedis({
          url: config.REDIS_URL,
          localUrl: config.PARLEY_LOCAL_REDIS_URL,
          spawnPort: 6380,
          env: presentOnly(env),
          output: log,
        }),
      () =>
        resolveSmtp({
          url: config.SMTP_URL,
          catcherPort: config.SMTP_CATCHER_PORT,
          catcherHttpPort: config.SMTP_CATCHER_HTTP_PORT,
          strictPorts: isSet(env.SMTP_CATCHER_PORT) || isSet(env.SMTP_CATCHER_HTTP_PORT),
          output: log,
        }),
    ] as const);
    checkpoint();
    say(`postgres: ${database.source} (${redactUrl(database.url)})`);
    say(`redis: ${redis.source} (${redactUrl(redis.url)})`);
    say(`smtp: ${smtp.source} (${redactUrl(smtp.url)}${smtp.inboxUrl ? `, inbox ${smtp.inboxUrl}` : ""})`);

    const found = await discoverApps(rootDir);
    const wanted = config.PARLEY_APPS;
    // The web app needs the API it talks to; without one it is neither built nor served.
    const serveWeb = config.PARLEY_WEB && webAppExists(rootDir) && found.has("api") && (wanted === undefined || wanted.includes("api"));
    const webUrl = serveWeb ? `http://127.0.0.1:${config.WEB_PORT}` : undefined;
    const settings = await chooseSettings(config, env, dataDir, { database, redis, smtp }, webUrl);
    printSettings(say, settings);
    checkpoint();

    say("migrating the database");
    const applied = await migrated(database.url);
    say(applied === 0 ? "database schema is up to date" : `database: applied ${applied} migration(s)`);
    checkpoint();

    const instances = planInstances(wanted ? new Map([...found].filter(([app]) => wanted.includes(app))) : found, {
      apiPort: config.API_PORT,
      edgeBasePort: config.EDGE_BASE_PORT,
      edgeCount: config.EDGE_COUNT,
      workerPort: config.WORKER_PORT,
      opsBasePort: config.OPS_BASE_PORT,
    });
    const owners = new Map<number, string>();
    const listeners = instances.flatMap((instance) => [
      { port: instance.port, name: instance.name, variable: instance.portVariable },
      ...(instance.opsPort === undefined ? [] : [{ port: instance.opsPort, name: `${instance.name} (ops)`, variable: "OPS_BASE_PORT" }]),
    ]);
    for (const listener of listeners) {
      const other = owners.get(listener.port);
      if (other) throw new ServiceError(`${other} and ${listener.name} would both listen on port ${listener.port}; check API_PORT, EDGE_BASE_PORT, WORKER_PORT and OPS_BASE_PORT`);
      owners.set(listener.port, listener.name);
      if (!(await isPortFree(listener.port))) {
        throw new ServiceError(
          `port ${listener.port} for ${listener.name} is in use (is another cluster running?); set ${listener.variable} to move it`,
        );
      }
    }
    if (serveWeb) {
      const other = owners.get(config.WEB_PORT);
      if (other) throw new ServiceError(`${other} and web would both listen on port ${config.WEB_PORT}; check WEB_PORT`);
      if (!(await isPortFree(config.WEB_PORT))) {
        throw new ServiceError(`port ${config.WEB_PORT} for web is in use (is another cluster running?); set WEB_PORT to move it`);
      }
    }
    checkpoint();

    const urls = clusterUrls(instances, database, redis, smtp, webUrl);
    if (serveWeb && urls.api !== undefined) {
      say("building the web app (apps/web) unless its last build is current");
      const build = await ensureWebBuild({ rootDir, onLine: (line) => log.line("parley", `web build: ${line}`) });
      say(build.rebuilt ? `web app built into ${path.relative(rootDir, build.dir)}` : "web app build is up to date");
      checkpoint();
      const web = await startWebServer({
        dir: build.dir,
        port: config.WEB_PORT,
        config: { api_url: urls.api, edge_urls: urls.edges },
      });
      started.push({ url: web.url, source: "launcher", close: () => web.close() });
    }

    const appEnv = { ...presentOnly(env), ...Object.fromEntries([...settings].map(([key, setting]) => [key, setting.value])) };
    return runCluster({ instances, appEnv, services: started, config, log, say, urls });
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

/** Creates the database when missing, then applies pending migrations; returns how many. */
async function migrated(databaseUrl: string): Promise<number> {
  try {
    await ensureDatabase(databaseUrl);
    return (await migrate(databaseUrl)).applied;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ServiceError(`migrating ${redactUrl(databaseUrl)} failed: ${reason}`, { cause: error });
  }
}

interface RunOptions {
  readonly instances: readonly AppInstance[];
  readonly appEnv: Record<string, string>;
  readonly services: readonly ResolvedService[];
  readonly config: LauncherConfig;
  readonly log: Output;
  readonly say: (text: string) => void;
  readonly urls: ClusterUrls;
}

function runCluster({ instances, appEnv, services, config, log, say, urls }: RunOptions): Cluster {
  if (instances.length === 0) {
    say("no apps to start yet (an app needs apps/<api|edge|worker>/package.json with a start script and src/main.ts)");
  }
  for (const instance of instances) log.register(instance.name);
  // tsx's ESM loader, resolved from here so apps need not depend on tsx themselves.
  const loader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const policy = {
    failFast: config.LAUNCHER_FAIL_FAST,
    initialDelayMs: config.LAUNCHER_RESTART_DELAY,
    maxDelayMs: config.LAUNCHER_RESTART_MAX_DELAY,
    stableAfterMs: STABLE_AFTER_MS,
  };
  const children = instances.map(
    (instance) =>
      new SupervisedApp(instance, policy, {
        // Node itself, not pnpm or the tsx CLI, so our signals reach the app directly.
        spawn: () =>
          new ManagedProcess({
            name: instance.name,
            command: process.execPath,
            args: ["--import", loader, "src/main.ts"],
            cwd: instance.dir,
            env: { ...appEnv, PORT: String(instance.port), ...(instance.opsPort === undefined ? {} : { OPS_PORT: String(instance.opsPort) }), NODE_ID: instance.name },
            output: log,
          }),
        say: (text, kind) => log.line("parley", text, kind),
        fail: (reason) => fail(reason),
      }),
  );

  const halt = new AbortController();
  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  let shutdown: Promise<number> | undefined;
  const shutDown = (code: number): Promise<number> => {
    shutdown ??= (async () => {
      halt.abort(new Error("the cluster is stopping"));
      const running = children.filter((child) => child.pid !== undefined);
      if (running.length > 0) say(`stopping ${running.map((child) => child.name).join(", ")}`);
      await Promise.all(children.map((child) => child.stop(STOP_GRACE_MS)));
      await closeAll(services, (error) => log.line("parley", `while stopping a service: ${error.message}`, "stderr"));
      say(code === 0 ? "stopped" : "stopped after a failure");
      resolveStopped(code);
      return code;
    })();
    return shutdown;
  };
  const fail = (reason: string) => {
    if (shutdown) return;
    log.line("parley", reason, "stderr");
    void shutDown(1);
  };
  for (const child of children) child.start();
  for (const service of services) void service.died?.then((reason) => fail(`${reason}; stopping everything`));

  const ready = (async () => {
    try {
      await waitUntilReady(instances, { timeoutMs: config.PARLEY_READY_TIMEOUT, signal: halt.signal });
    } catch (error) {
      if (!halt.signal.aborted) fail(error instanceof Error ? error.message : String(error));
      throw error;
    }
    for (const child of children) child.enableRestarts();
    printUrls(say, urls);
    log.raw("parley: ready");
  })();
  ready.catch(() => undefined); // the caller decides whether to look; a failure already stops the cluster

  return {
    urls,
    ready,
    stopped,
    apps: children,
    app(name) {
      const found = children.find((child) => child.name === name);
      if (!found) throw new Error(`no app named ${name} in this cluster (${children.map((child) => child.name).join(", ") || "none"})`);
      return found;
    },
    stop: async () => {
      await shutDown(0);
    },
  };
}

async function chooseSettings(
  config: LauncherConfig,
  env: Readonly<Record<string, string | undefined>>,
  dataDir: string,
  services: { database: ResolvedService; redis: ResolvedService; smtp: ResolvedService },
  webUrl: string | undefined,
): Promise<Map<string, Setting>> {
  const settings = new Map<string, Setting>();
  for (const key of KNOWN_VARIABLES) {
    const value = env[key];
    if (isSet(value)) settings.set(key, { value, source: "env" });
  }
  settings.set("DATABASE_URL", { value: services.database.url, source: services.database.source });
  settings.set("REDIS_URL", { value: services.redis.url, source: services.redis.source });
  settings.set("SMTP_URL", { value: services.smtp.url, source: services.smtp.source });
  if (config.JWT_SECRET === undefined && config.JWT_PUBLIC_KEY === undefined && config.JWKS_URL === undefined) {
    const { secret, file, generated } = await localJwtSecret(dataDir);
    settings.set("JWT_SECRET", { value: secret, source: `${generated ? "generated into" : "from"} ${file}` });
  }
  // Edges and the API it starts share a fresh internal-channel secret (nothing outlives the run, so no file).
  if (!settings.has("INTERNAL_SECRET")) settings.set("INTERNAL_SECRET", { value: randomBytes(36).toString("base64url"), source: "generated" });
  for (const [key, value] of Object.entries(localDefaults({ apiPort: config.API_PORT, webUrl }))) {
    if (!settings.has(key)) settings.set(key, { value, source: "default" });
  }
  if (!settings.has("EDGE_COUNT")) settings.set("EDGE_COUNT", { value: String(config.EDGE_COUNT), source: "default" });
  return settings;
}

function clusterUrls(
  instances: readonly AppInstance[],
  database: ResolvedService,
  redis: ResolvedService,
  smtp: ResolvedService & { inboxUrl: string | undefined },
  web: string | undefined,
): ClusterUrls {
  const http = (instance: AppInstance) => `http://127.0.0.1:${instance.port}`;
  const api = instances.find((instance) => instance.app === "api");
  const worker = instances.find((instance) => instance.app === "worker");
  return {
    databaseUrl: database.url,
    redisUrl: redis.url,
    smtpUrl: smtp.url,
    inbox: smtp.inboxUrl,
    api: api ? http(api) : undefined,
    edges: instances.filter((instance) => instance.app === "edge").map((instance) => `ws://127.0.0.1:${instance.port}/v1/ws`),
    worker: worker ? http(worker) : undefined,
    web: api ? web : undefined,
    // The API and edges serve /metrics on their ops port only; the worker on its one port.
    metrics: instances.map((instance) => `http://127.0.0.1:${instance.opsPort ?? instance.port}/metrics`),
  };
}

/** Starts services side by side; when one fails, the others are still recorded in `started` for clean-up. */
async function startAll<T extends readonly (() => Promise<ResolvedService>)[]>(
  started: ResolvedService[],
  starters: T,
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const results = await Promise.allSettled(starters.map((start) => start()));
  for (const result of results) if (result.status === "fulfilled") started.push(result.value);
  const failure = results.find((result) => result.status === "rejected");
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<ResolvedService>).value) as {
    -readonly [K in keyof T]: Awaited<ReturnType<T[K]>>;
  };
}

async function closeAll(services: readonly ResolvedService[], onError: (error: Error) => void = () => undefined): Promise<void> {
  for (const service of [...services].reverse()) {
    try {
      await service.close();
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error))); // and keep stopping the others
    }
  }
}

function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  return name === "" ? "parley" : name;
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

function presentOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
