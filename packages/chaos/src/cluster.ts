import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SmtpCatcher } from "@parley/launcher";
import { freePort, startAppProcess, type AppProcess } from "@parley/testing";
import { startChaosDatabase, type ChaosDatabase } from "./own-postgres";
import { OwnRedis } from "./own-redis";
import { TcpBalancer } from "./tcp-balancer";

const here = path.dirname(fileURLToPath(import.meta.url));
const appDir = (app: "api" | "edge" | "worker") => path.resolve(here, "../../../apps", app);
const UNLIMITED = "1000000";
/** The load is the experiment: no rate limit of the API or the edges may shape it (each app reads the ones it has). */
const NO_RATE_LIMITS = {
  MESSAGE_RATE_LIMIT: UNLIMITED,
  REQUEST_RATE_LIMIT: UNLIMITED,
  IP_REQUEST_RATE_LIMIT: UNLIMITED,
  REGISTER_RATE_LIMIT: UNLIMITED,
  HANDSHAKE_RATE_LIMIT: UNLIMITED,
} as const;

export interface ClusterSettings {
  /** How long a draining edge spreads its clients' reconnects over (DRAIN_SPREAD_MS). */
  readonly drainSpread: string;
  /** EMAIL_DELAY of the API and worker: how long a recipient must stay offline before a mail. */
  readonly emailDelay: string;
}

/** One process of the cluster, restartable on the same ports so clients and the balancer find it again. */
export class Node {
  private process: AppProcess | undefined;

  constructor(
    readonly name: string,
    private readonly app: "api" | "edge" | "worker",
    private readonly env: () => Record<string, string>,
    readonly port: number,
    readonly opsPort: number,
  ) {}

  get running(): boolean {
    return this.process !== undefined;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws`;
  }

  /** How often the process ended by itself (a crash), not by one of our signals, since the count was reset. */
  crashes = 0;
  private expectingExit = false;

  async start(): Promise<void> {
    if (this.process) return;
    this.expectingExit = false;
    const started = await startAppProcess({ cwd: appDir(this.app), name: this.name, env: { ...this.env(), NODE_ID: this.name }, port: this.port, opsPort: this.opsPort, readyTimeoutMs: 60_000 });
    this.process = started;
    void started.exited.then(() => {
      this.lastOutput = started.output();
      if (!this.expectingExit) this.crashes++;
      if (this.process === started) this.process = undefined;
    });
  }

  /** SIGKILL, no warning. */
  async kill(): Promise<void> {
    this.expectingExit = true;
    await this.process?.kill();
    this.process = undefined;
  }

  /** SIGTERM: the node drains and exits by itself. */
  async stop(): Promise<void> {
    this.expectingExit = true;
    await this.process?.stop("SIGTERM", 30_000);
    this.process = undefined;
  }

  /** SIGSTOP / SIGCONT: a node that stalls (a network partition, a GC pause, a frozen VM) and comes back. */
  signal(signal: "SIGSTOP" | "SIGCONT"): void {
    const pid = this.process?.pid;
    if (pid !== undefined) process.kill(pid, signal);
  }

  /** The last lines of the process, or of the last one when it is gone. */
  output(): string {
    return this.process?.output() ?? this.lastOutput;
  }

  private lastOutput = "";
}

/** A whole Parley cluster of the suite's own: PostgreSQL, Redis, an SMTP catcher, API node(s) behind a balancer, three edges, the worker. */
export class ChaosCluster {
  readonly apis: Node[] = [];
  readonly edges: Node[] = [];
  readonly worker: Node;
  readonly jwtSecret = randomBytes(32).toString("hex");
  private readonly internalSecret = randomBytes(32).toString("hex");
  private closing: Promise<void> | undefined;

  private constructor(
    readonly database: ChaosDatabase,
    readonly redis: OwnRedis,
    readonly smtp: SmtpCatcher,
    readonly smtpUrl: string,
    readonly balancer: TcpBalancer,
    private readonly settings: ClusterSettings,
    ports: { apis: [number, number][]; edges: [number, number][]; worker: number },
  ) {
    ports.apis.forEach(([port, ops], i) => this.apis.push(new Node(`api-${i + 1}`, "api", () => this.apiEnv(), port, ops)));
    ports.edges.forEach(([port, ops], i) => this.edges.push(new Node(`edge-${i + 1}`, "edge", () => this.edgeEnv(), port, ops)));
    this.worker = new Node("worker", "worker", () => this.workerEnv(), ports.worker, ports.worker);
  }

  /** Starts the services and every node: `apis` API nodes (the first one running, the others ready to start), 3 edges, the worker. */
  static async start(settings: ClusterSettings, options: { apis?: number; edges?: number } = {}): Promise<ChaosCluster> {
    const pairs = async (count: number) => Promise.all(Array.from({ length: count }, async () => [await freePort(), await freePort()] as [number, number]));
    const smtp = new SmtpCatcher({ smtpPort: 0, httpPort: 0 });
    const [database, redis, smtpUrls, balancer, apis, edges, worker] = await Promise.all([
      startChaosDatabase(),
      OwnRedis.start(),
      smtp.start(),
      TcpBalancer.start([]),
      pairs(options.apis ?? 2),
      pairs(options.edges ?? 3),
      freePort(),
    ]);
    const cluster = new ChaosCluster(database, redis, smtp, smtpUrls.smtpUrl, balancer, settings, { apis, edges, worker });
    try {
      await cluster.apis[0]?.start();
      cluster.routeApis();
      await Promise.all([...cluster.edges.map((edge) => edge.start()), cluster.worker.start()]);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** Edge `n` (0-based). */
  edge(n: number): Node {
    return nth(this.edges, n, "edge");
  }

  /** API node `n` (0-based). */
  api(n: number): Node {
    return nth(this.apis, n, "API node");
  }

  /** The API as clients and edges reach it: through the balancer. */
  get apiUrl(): string {
    return this.balancer.url;
  }

  get wsUrls(): string[] {
    return this.edges.map((edge) => edge.wsUrl);
  }

  get nodes(): Node[] {
    return [...this.apis, ...this.edges, this.worker];
  }

  /** Points the balancer at the API nodes that run. */
  routeApis(): void {
    this.balancer.setBackends(this.apis.filter((api) => api.running).map((api) => api.port));
  }

  /** Starts whatever is not running (after a scenario) so the next one begins with a whole cluster. */
  async heal(options: { apis: number }): Promise<void> {
    await Promise.all(this.apis.slice(0, options.apis).map((api) => api.start()));
    await Promise.all(this.apis.slice(options.apis).map((api) => api.stop()));
    this.routeApis();
    await Promise.all([...this.edges, this.worker].map((node) => node.start()));
    for (const node of this.nodes) node.crashes = 0;
  }

  /** Nodes that died by themselves, with their last output: a scenario that crashes a node fails on it. */
  crashed(): string[] {
    return this.nodes.filter((node) => node.crashes > 0).map((node) => node.name);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const node of this.edges) node.signal("SIGCONT");
      await Promise.allSettled(this.nodes.map((node) => node.stop()));
      await Promise.allSettled([this.balancer.close(), this.smtp.close(), this.redis.close(), this.database.close()]);
    })();
    return this.closing;
  }

  private common(): Record<string, string> {
    return {
      REDIS_URL: this.redis.url,
      REDIS_KEY_PREFIX: "chaos:",
      LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      NODE_ENV: "test",
      JWT_SECRET: this.jwtSecret,
      INTERNAL_SECRET: this.internalSecret,
      EMAIL_DELAY: this.settings.emailDelay,
      EMAIL_CONFIRMATION: "off",
    };
  }

  private apiEnv(): Record<string, string> {
    return {
      ...this.common(),
      ...NO_RATE_LIMITS,
      DATABASE_URL: this.database.url,
    };
  }

  private edgeEnv(): Record<string, string> {
    return {
      ...this.common(),
      ...NO_RATE_LIMITS,
      API_URL: this.balancer.url,
      MAX_CONNECTIONS_PER_USER: "10",
      HEARTBEAT_MS: "2s",
      DRAIN_SPREAD_MS: this.settings.drainSpread,
    };
  }

  private workerEnv(): Record<string, string> {
    return { ...this.common(), DATABASE_URL: this.database.url, SMTP_URL: this.smtpUrl, PUBLIC_APP_URL: "http://127.0.0.1:3200" };
  }
}

function nth(nodes: readonly Node[], n: number, what: string): Node {
  const node = nodes[n];
  if (node === undefined) throw new Error(`the cluster has no ${what} ${n + 1}`);
  return node;
}
