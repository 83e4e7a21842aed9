import { z } from "zod";
import { readYaml } from "./repo";

const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const dependsOn = z.union([
  z.array(z.string()),
  z.record(z.string(), z.object({ condition: z.string() }).loose()),
]);

export const composeService = z
  .object({
    image: z.string().optional(),
    build: z.object({ context: z.string(), dockerfile: z.string(), args: z.record(z.string(), z.string()).optional() }).loose().optional(),
    command: z.array(z.string()).optional(),
    environment: stringMap.optional(),
    depends_on: dependsOn.optional(),
    healthcheck: z.object({ test: z.array(z.string()) }).loose().optional(),
    ports: z.array(z.string()).optional(),
    volumes: z.array(z.string()).optional(),
    stop_grace_period: z.string().optional(),
    read_only: z.boolean().optional(),
    restart: z.string().optional(),
  })
  .loose();

export type ComposeService = z.infer<typeof composeService>;

export const composeFile = z.object({
  name: z.string().optional(),
  services: z.record(z.string(), composeService),
  volumes: z.record(z.string(), z.unknown()).optional(),
});

/** docker-compose.yml with merge keys resolved; `${VAR:-default}` left as written. */
export function loadCompose() {
  return composeFile.parse(readYaml("docker-compose.yml"));
}

/** Compose's interpolation for the forms the file uses: `${VAR:-default}`, `${VAR}` and `$$`. */
export function interpolate(value: string, env: Record<string, string | undefined> = {}): string {
  return value
    .replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_match, name: string, fallback: string | undefined) => env[name] ?? fallback ?? "")
    .replace(/\$\$/g, "$");
}

/** A duration as compose writes it (`30s`, `1m30s`, `500ms`), in milliseconds. */
export function composeDurationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001 };
  let total = 0;
  let rest = text.trim();
  while (rest.length > 0) {
    const part = /^(\d+(?:\.\d+)?)(ms|us|h|m|s)/.exec(rest);
    if (!part?.[1] || !part[2]) throw new Error(`not a compose duration: ${text}`);
    total += Number(part[1]) * (units[part[2]] ?? 0);
    rest = rest.slice(part[0].length);
  }
  return total;
}

/** The Node app a compose service's image is built for: the root Dockerfile's APP build argument. */
export function appOfBuild(build: ComposeService["build"]): "api" | "edge" | "worker" | undefined {
  if (build?.dockerfile !== "Dockerfile") return undefined;
  const app = build.args?.APP;
  return app === "api" || app === "edge" || app === "worker" ? app : undefined;
}
