import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appOfBuild, composeDurationMs, interpolate, loadCompose, type ComposeService } from "./support/compose";
import { DEFAULT_PORTS, drainSpreadMs, envNames, envProblems, type Role } from "./support/env-schemas";
import { hasCommand, readRepoFile, repoPath, repoRoot, run } from "./support/repo";

const compose = loadCompose();
const services = compose.services;

function service(name: string): ComposeService {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** What a service runs: an app node, the migration runner, or something else (undefined). */
function roleOf(name: string, svc: ComposeService): Role | undefined {
  const app = appOfBuild(svc.build);
  if (app === undefined) return undefined;
  return svc.command?.some((part) => part.includes("migrate-cli")) === true || name === "migrate" ? "migrate" : app;
}

const appServices = Object.entries(services).flatMap(([name, svc]) => {
  const role = roleOf(name, svc);
  return role === undefined ? [] : [{ name, svc, role }];
});
const edges = appServices.filter((s) => s.role === "edge");

/** The plugin (`docker compose`) or the standalone binary, when installed; neither needs a Docker engine for `config`. */
const composeClient = hasCommand("docker") && run("docker", ["compose", "version"]).status === 0 ? ["docker", "compose"] : hasCommand("docker-compose") ? ["docker-compose"] : undefined;

/** The service's environment as the container sees it, with compose's `${VAR:-default}` defaults applied. */
function resolvedEnv(svc: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(svc.environment ?? {}).map(([key, value]) => [key, interpolate(value)]));
}

describe("docker-compose.yml", () => {
  it("runs PostgreSQL, Redis, a migration, the API, three edges behind a load balancer, the worker, the web app, Mailpit, Prometheus and Grafana", () => {
    expect(Object.keys(services).sort()).toEqual(
      ["api", "edge-1", "edge-2", "edge-3", "grafana", "lb", "mailpit", "migrate", "postgres", "prometheus", "redis", "web", "worker"].sort(),
    );
    expect(appServices.map((s) => `${s.name}:${s.role}`).sort()).toEqual(["api:api", "edge-1:edge", "edge-2:edge", "edge-3:edge", "migrate:migrate", "worker:worker"]);
  });

  it("gives Redis the noeviction policy (resume streams and queues must never be evicted)", () => {
    const command = service("redis").command ?? [];
    expect(command[command.indexOf("--maxmemory-policy") + 1]).toBe("noeviction");
  });

  it("migrates once before the API and the worker start, after PostgreSQL is healthy", () => {
    const migrate = service("migrate");
    expect(migrate.command).toEqual(["node", "--import", "tsx", "node_modules/@parley/db/src/migrate-cli.ts"]);
    // In the image, pnpm deploy puts packages/db at node_modules/@parley/db.
    expect(JSON.parse(readRepoFile("packages/db/package.json"))).toMatchObject({ name: "@parley/db" });
    expect(existsSync(repoPath("packages/db/src/migrate-cli.ts"))).toBe(true);
    expect(migrate.restart).toBe("no");
    expect(migrate.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    for (const name of ["api", "worker"]) {
      expect(service(name).depends_on, name).toMatchObject({ migrate: { condition: "service_completed_successfully" } });
    }
  });

  it("orders startup on health: every dependency has a condition, and every service_healthy target a healthcheck", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.depends_on === undefined) continue;
      expect(Array.isArray(svc.depends_on), `${name}: depends_on without conditions`).toBe(false);
      for (const [target, { condition }] of Object.entries(svc.depends_on as Record<string, { condition: string }>)) {
        expect(["service_healthy", "service_completed_successfully"], `${name} -> ${target}`).toContain(condition);
        if (condition === "service_healthy") expect(service(target).healthcheck, `${target} needs a healthcheck`).toBeDefined();
      }
    }
    expect(Object.keys(service("lb").depends_on ?? {})).toEqual(expect.arrayContaining(edges.map((e) => e.name)));
  });

  it("health-checks every node on its own PORT's /readyz", () => {
    for (const { name, svc, role } of appServices) {
      if (role === "migrate") continue;
      const port = resolvedEnv(svc).PORT;
      expect(svc.healthcheck?.test.join(" "), name).toContain(`http://127.0.0.1:${port}/readyz`);
    }
  });

  it("sets only environment variables the apps read, with values their config schemas accept", () => {
    for (const { name, svc, role } of appServices) {
      const env = resolvedEnv(svc);
      const allowed = envNames(role);
      for (const key of Object.keys(env)) expect(allowed.has(key), `${name} (${role}) sets ${key}, which packages/config does not read`).toBe(true);
      expect(envProblems(role, env), name).toEqual([]);
    }
  });

  it("gives each edge its own NODE_ID and a stop grace period longer than its drain window", () => {
    const ids = edges.map(({ svc }) => resolvedEnv(svc).NODE_ID);
    expect(new Set(ids).size).toBe(3);
    for (const { name, svc } of edges) {
      const drain = drainSpreadMs(resolvedEnv(svc));
      const grace = composeDurationMs(svc.stop_grace_period ?? "10s");
      // The edge gives itself DRAIN_SPREAD_MS + 20 s after SIGTERM before it forces its own exit.
      expect(grace, `${name}: stop_grace_period ${svc.stop_grace_period ?? "10s (default)"} vs drain ${drain} ms`).toBeGreaterThan(drain + 20_000);
    }
  });

  it("runs the nodes from their own images, built from the one Dockerfile with APP and its default PORT, read-only with a private /tmp", () => {
    for (const { name, svc, role } of appServices) {
      const app = role === "migrate" ? "api" : role;
      expect(svc.image, name).toBe(`parley-${app}:local`);
      expect(svc.build, name).toEqual({ context: ".", dockerfile: "Dockerfile", args: { APP: app, PORT: String(DEFAULT_PORTS[app]) } });
      expect(svc.read_only, name).toBe(true);
      expect(svc.tmpfs, name).toEqual(["/tmp"]);
    }
  });

  it("mounts the load balancer, Prometheus and Grafana configuration from infra/", () => {
    expect(service("lb").volumes).toContain("./infra/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro");
    expect(service("prometheus").volumes).toEqual(
      expect.arrayContaining(["./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "./infra/prometheus/rules:/etc/prometheus/rules:ro"]),
    );
    expect(service("grafana").volumes).toContain("./infra/grafana/provisioning:/etc/grafana/provisioning:ro");
  });

  it.skipIf(composeClient === undefined)("is accepted by the docker compose client, when this machine has one", () => {
    const [command = "docker", ...prefix] = composeClient ?? [];
    const dir = mkdtempSync(path.join(tmpdir(), "parley-compose-"));
    try {
      let file = repoPath("docker-compose.yml");
      if (run(command, [...prefix, "version", "--short"]).stdout.trim().startsWith("1.")) {
        // Compose v1 predates the top-level `name`; everything else must validate.
        file = path.join(dir, "docker-compose.yml");
        writeFileSync(file, readRepoFile("docker-compose.yml").replace(/^name: .*$/m, ""));
      }
      const result = run(command, [...prefix, "-f", file, "--project-directory", repoRoot, "config", "--quiet"]);
      expect(result.status, result.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the web app service", () => {
  const web = service("web");
  const template = readRepoFile("infra/web/default.conf.template");

  it("builds apps/web and serves it read-only, its config rendered from the environment", () => {
    expect(web.build).toEqual({ context: ".", dockerfile: "apps/web/Dockerfile" });
    expect(web.read_only).toBe(true);
    const dockerfile = readRepoFile("apps/web/Dockerfile");
    expect(dockerfile).toContain("pnpm --filter @parley/web build");
    expect(dockerfile).toContain("COPY infra/web/default.conf.template /etc/nginx/templates/default.conf.template");
    const env = resolvedEnv(web);
    expect(() => new URL(env.PARLEY_API_URL ?? "")).not.toThrow();
    const edges = JSON.parse(env.PARLEY_EDGE_URLS ?? "null") as unknown;
    expect(Array.isArray(edges) && edges.length > 0 && edges.every((url) => typeof url === "string" && url.startsWith("ws"))).toBe(true);
  });

  it("answers /config.json from PARLEY_API_URL and PARLEY_EDGE_URLS and falls back to index.html for client routes", () => {
    expect(template).toMatch(/location = \/config\.json \{[^}]*\$\{PARLEY_API_URL\}[^}]*\$\{PARLEY_EDGE_URLS\}/);
    expect(template).toMatch(/try_files \$uri \/index\.html;/);
  });

  it("is where the links in e-mails point (PUBLIC_APP_URL of the API and the worker)", () => {
    const published = (web.ports ?? []).map((port) => port.split(":")[0]);
    for (const name of ["api", "worker"]) {
      const url = new URL(resolvedEnv(service(name)).PUBLIC_APP_URL ?? "");
      expect(published, name).toContain(url.port);
    }
  });
});

describe("load balancer (infra/haproxy/haproxy.cfg)", () => {
  const config = readRepoFile("infra/haproxy/haproxy.cfg");

  it("sends /v1/ws to every edge at its PORT and the rest to the API, checking /readyz", () => {
    expect(config).toMatch(/acl is_ws path_beg \/v1\/ws\n\s+use_backend edges if is_ws/);
    const servers = [...config.matchAll(/^\s+server \S+ (\S+)$/gm)].map((m) => m[1]);
    for (const { name, svc } of edges) expect(servers).toContain(`${name}:${resolvedEnv(svc).PORT ?? ""}`);
    expect(servers).toContain(`api:${resolvedEnv(service("api")).PORT ?? ""}`);
    expect(config.match(/option httpchk GET \/readyz/g)).toHaveLength(2);
  });

  it("keeps upgraded WebSockets open past the heartbeat, without sticky sessions", () => {
    expect(config).toMatch(/timeout tunnel (\d+h|\d{3,}s)/);
    expect(config).not.toMatch(/\b(stick|cookie|balance source|hash-type)\b/);
  });

  it.skipIf(!hasCommand("haproxy"))("is valid HAProxy configuration, when haproxy is installed", () => {
    const result = run("haproxy", ["-c", "-f", repoPath("infra/haproxy/haproxy.cfg")]);
    expect(result.status, result.stderr).toBe(0);
  });
});
