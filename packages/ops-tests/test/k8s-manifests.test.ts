import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadCompose } from "./support/compose";
import { drainSpreadMs, envNames, envProblems, type Role } from "./support/env-schemas";
import {
  configMap,
  deployment,
  hpa,
  httpRoute,
  job,
  ofKind,
  pdb,
  renderKustomization,
  secret,
  service,
  type Container,
  type PodTemplate,
  type Resource,
} from "./support/kubernetes";
import { CONTRACT } from "./support/metric-contract";
import { readYaml } from "./support/repo";

const OVERLAYS = ["dev", "prod"] as const;

interface Workload {
  readonly kind: "Deployment" | "Job";
  readonly name: string;
  readonly template: PodTemplate;
}

/** The Parley role an image runs: parley-api:local, registry.example.com/parley/edge:1.2 and so on. */
function appOfImage(image: string): "api" | "edge" | "worker" | undefined {
  const repository = image.replace(/:[^/:]+$/, "");
  return /(?:^|\/)parley[-/](api|edge|worker)$/.exec(repository)?.[1] as "api" | "edge" | "worker" | undefined;
}

function roleOf(workload: Workload, c: Container): Role | undefined {
  const app = appOfImage(c.image);
  if (app === undefined) return undefined;
  return c.command?.some((part) => part.includes("migrate-cli")) === true ? "migrate" : app;
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

describe.each(OVERLAYS)("k8s/overlays/%s", (overlay) => {
  const resources: Resource[] = renderKustomization(`k8s/overlays/${overlay}`);
  const deployments = ofKind(resources, deployment, "Deployment");
  const jobs = ofKind(resources, job, "Job");
  const configMaps = new Map(ofKind(resources, configMap, "ConfigMap").map((c) => [c.metadata.name, c.data]));
  const secrets = new Map(ofKind(resources, secret, "Secret").map((s) => [s.metadata.name, s.data]));
  const services = ofKind(resources, service, "Service");
  const workloads: Workload[] = [
    ...deployments.map((d) => ({ kind: "Deployment" as const, name: d.metadata.name, template: d.spec.template })),
    ...jobs.map((j) => ({ kind: "Job" as const, name: j.metadata.name, template: j.spec.template })),
  ];
  const parley = workloads.flatMap((w) =>
    w.template.spec.containers.flatMap((c) => {
      const role = roleOf(w, c);
      return role === undefined ? [] : [{ workload: w, container: c, role }];
    }),
  );
  const edgeDeployment = deployments.find((d) => d.metadata.name === "parley-edge");

  /** A container's environment as the pod would see it (secrets from the dev Secret when this overlay has none). */
  function containerEnv(c: Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const source of c.envFrom ?? []) {
      if (source.configMapRef) Object.assign(env, configMaps.get(source.configMapRef.name) ?? {});
      expect(source.secretRef, `${c.name}: envFrom a Secret hides which variables it sets`).toBeUndefined();
    }
    for (const variable of c.env ?? []) {
      const from = variable.valueFrom;
      if (variable.value !== undefined) env[variable.name] = variable.value;
      else if (from?.fieldRef) env[variable.name] = "parley-pod-7d9f8b6c5-x2x4k";
      else if (from?.configMapKeyRef) env[variable.name] = configMaps.get(from.configMapKeyRef.name)?.[from.configMapKeyRef.key] ?? "";
      else if (from?.secretKeyRef) env[variable.name] = secretValue(from.secretKeyRef.name, from.secretKeyRef.key);
    }
    return env;
  }

  function secretValue(name: string, key: string): string {
    const data = secrets.get(name) ?? devSecret();
    const encoded = data[key];
    if (encoded === undefined) throw new Error(`Secret ${name} has no key ${key}`);
    return Buffer.from(encoded, "base64").toString("utf8");
  }

  it("renders Deployments for the API, the edges and the worker, and a migration Job", () => {
    expect(deployments.map((d) => d.metadata.name)).toEqual(expect.arrayContaining(["parley-api", "parley-edge", "parley-worker"]));
    expect(parley.map((p) => `${p.workload.name}:${p.role}`).sort()).toEqual(["parley-api:api", "parley-edge:edge", "parley-migrate:migrate", "parley-worker:worker"]);
  });

  it("gives every container probes and resources", () => {
    for (const w of workloads) {
      for (const c of [...w.template.spec.containers, ...(w.template.spec.initContainers ?? [])]) {
        const where = `${w.name}/${c.name}`;
        expect(c.resources?.requests?.cpu, `${where} cpu request`).toBeDefined();
        expect(c.resources?.requests?.memory, `${where} memory request`).toBeDefined();
        expect(c.resources?.limits?.memory, `${where} memory limit`).toBeDefined();
        if (w.kind === "Job") continue;
        expect(c.readinessProbe, `${where} readinessProbe`).toBeDefined();
        expect(c.livenessProbe, `${where} livenessProbe`).toBeDefined();
      }
    }
  });

  it("probes Parley nodes on /healthz (liveness) and /readyz (readiness) at their PORT", () => {
    for (const { workload, container: c, role } of parley) {
      if (role === "migrate") continue;
      const port = Number(containerEnv(c).PORT);
      const named = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      const probePort = (value: string | number | undefined) => (typeof value === "string" ? named.get(value) : value);
      expect(c.livenessProbe?.httpGet?.path, workload.name).toBe("/healthz");
      expect(c.readinessProbe?.httpGet?.path, workload.name).toBe("/readyz");
      expect(probePort(c.livenessProbe?.httpGet?.port), workload.name).toBe(port);
      expect(probePort(c.readinessProbe?.httpGet?.port), workload.name).toBe(port);
      // The API and edges serve /metrics on OPS_PORT only (a named container port, outside every Service); the worker on PORT.
      const env = containerEnv(c);
      const metricsPort = Number(env.OPS_PORT ?? env.PORT);
      if (role !== "worker") {
        expect(env.OPS_PORT, `${workload.name} OPS_PORT`).toBeDefined();
        expect(named.get("ops"), `${workload.name} container port "ops"`).toBe(metricsPort);
      }
      expect(workload.template.metadata.annotations?.["prometheus.io/port"], workload.name).toBe(String(metricsPort));
      expect(workload.template.metadata.labels["app.kubernetes.io/name"], "the Prometheus job name the alerts use").toBe(`parley-${role}`);
    }
  });

  it("runs Parley pods as non-root with a read-only root filesystem and a writable /tmp", () => {
    for (const { workload: w, container: c } of parley) {
      const pod = w.template.spec;
      expect(pod.securityContext?.runAsNonRoot, w.name).toBe(true);
      expect(pod.securityContext?.runAsUser, w.name).toBeGreaterThan(0);
      expect(pod.securityContext?.seccompProfile?.type, w.name).toBe("RuntimeDefault");
      expect(pod.automountServiceAccountToken, w.name).toBe(false);
      expect(c.securityContext?.readOnlyRootFilesystem, w.name).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation, w.name).toBe(false);
      expect(c.securityContext?.capabilities?.drop, w.name).toEqual(["ALL"]);
      const tmp = c.volumeMounts?.find((m) => m.mountPath === "/tmp");
      expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${w.name}: /tmp is an emptyDir`).toBeDefined();
    }
  });

  it("sets only environment variables the apps read, with values their config schemas accept", () => {
    for (const { workload, container: c, role } of parley) {
      const env = containerEnv(c);
      const allowed = envNames(role);
      for (const key of Object.keys(env)) expect(allowed.has(key), `${workload.name} (${role}) sets ${key}, which packages/config does not read`).toBe(true);
      expect(envProblems(role, env), workload.name).toEqual([]);
    }
  });

  it("runs the app images the Dockerfiles build, and migrations with the same command as compose", () => {
    const compose = loadCompose().services;
    for (const { workload, container: c, role } of parley) {
      if (overlay === "dev") expect(c.image, workload.name).toBe(compose[role === "migrate" ? "migrate" : role === "edge" ? "edge-1" : role]?.image);
      if (role === "migrate") expect(c.command).toEqual(compose.migrate?.command);
      else expect(c.command, `${workload.name} uses the image's CMD`).toBeUndefined();
    }
  });

  it("drains edges: preStop pause, then a grace period longer than the pause, DRAIN_SPREAD_MS and the edge's shutdown deadline", () => {
    const pod = edgeDeployment?.spec.template.spec;
    const edge = pod?.containers.find((c) => appOfImage(c.image) === "edge");
    expect(edge, "the edge container").toBeDefined();
    if (!pod || !edge) return;
    const preStop = edge.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe("sleep");
    const pauseSeconds = Number(preStop[1]);
    expect(pauseSeconds).toBeGreaterThan(0);
    const drainSeconds = drainSpreadMs(containerEnv(edge)) / 1000;
    // The edge gives itself DRAIN_SPREAD_MS + 20 s after SIGTERM before it forces its own exit.
    expect(pod.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(pauseSeconds + drainSeconds + 20);
  });

  it("rolls edges out without losing capacity, and limits voluntary disruptions with a PodDisruptionBudget", () => {
    expect(edgeDeployment?.spec.strategy?.type).toBe("RollingUpdate");
    expect(edgeDeployment?.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    const labels = edgeDeployment?.spec.template.metadata.labels ?? {};
    const budgets = ofKind(resources, pdb, "PodDisruptionBudget").filter((b) => selects(b.spec.selector.matchLabels, labels));
    expect(budgets).toHaveLength(1);
  });

  it("autoscales edges on the connections gauge the edge exports (through prometheus-adapter), with CPU as fallback", () => {
    const [autoscaler, ...others] = ofKind(resources, hpa, "HorizontalPodAutoscaler").filter((h) => h.spec.scaleTargetRef.name === "parley-edge");
    expect(others).toHaveLength(0);
    expect(autoscaler?.spec.scaleTargetRef.kind).toBe("Deployment");
    expect(edgeDeployment?.spec.replicas, "the HPA owns the edge replica count").toBeUndefined();
    const podsMetric = autoscaler?.spec.metrics.find((m) => m.type === "Pods")?.pods?.metric.name;
    const exported = CONTRACT.edge.find((m) => m.name === podsMetric);
    expect(exported?.type, `${podsMetric ?? "no Pods metric"} is a gauge the edge exports`).toBe("gauge");
    const adapter = z.object({ rules: z.array(z.object({ name: z.object({ as: z.string() }) }).loose()) }).parse(readYaml("infra/prometheus-adapter/config.yaml"));
    expect(adapter.rules.map((r) => r.name.as)).toContain(podsMetric);
    expect(autoscaler?.spec.metrics.find((m) => m.type === "Resource")?.resource?.name).toBe("cpu");
    expect(autoscaler?.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it("routes /v1/ws to the edges and /v1 to the API through Services that select their pods", () => {
    const routes = ofKind(resources, httpRoute, "HTTPRoute");
    const backendFor = (path: string) => routes.flatMap((r) => r.spec.rules).find((rule) => rule.matches.some((m) => m.path.value === path))?.backendRefs[0];
    const byName = new Map(services.map((s) => [s.metadata.name, s]));
    for (const [path, app] of [["/v1/ws", "edge"], ["/v1", "api"]] as const) {
      const backend = backendFor(path);
      const svc = byName.get(backend?.name ?? "");
      const target = deployments.find((d) => selects(svc?.spec.selector ?? { none: "" }, d.spec.template.metadata.labels));
      const c = target?.spec.template.spec.containers.find((item) => appOfImage(item.image) === app);
      expect(c, `${path} reaches an ${app} pod`).toBeDefined();
      const port = svc?.spec.ports.find((p) => p.port === backend?.port);
      expect(port, `${path}: Service port ${backend?.port ?? "?"}`).toBeDefined();
      expect(c?.ports?.find((p) => p.name === port?.targetPort || p.containerPort === port?.targetPort)?.containerPort).toBe(Number(containerEnv(c!).PORT));
    }
  });

  it("takes secrets from one Secret whose keys the dev overlay generates", () => {
    const dev = devSecret();
    for (const { workload, container: c } of parley) {
      for (const variable of c.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (!ref) continue;
        expect(ref.name.startsWith("parley-secrets"), workload.name).toBe(true);
        expect(Object.keys(dev), `${workload.name}: ${ref.key}`).toContain(ref.key);
        expect(ref.key).toBe(variable.name);
      }
    }
  });
});

let devSecretData: Record<string, string> | undefined;

/** The dev overlay's generated Secret: the keys every environment's Secret must have. */
function devSecret(): Record<string, string> {
  devSecretData ??= ofKind(renderKustomization("k8s/overlays/dev"), secret, "Secret").find((s) => s.metadata.name.startsWith("parley-secrets"))?.data;
  if (!devSecretData) throw new Error("k8s/overlays/dev generates no parley-secrets Secret");
  return devSecretData;
}
