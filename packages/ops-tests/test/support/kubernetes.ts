import { z } from "zod";
import { hasCommand, parseYamlStream, repoPath, run } from "./repo";

const probe = z
  .object({
    httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }).optional(),
    exec: z.object({ command: z.array(z.string()) }).optional(),
  })
  .loose();

const envVar = z.object({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .object({
      fieldRef: z.object({ fieldPath: z.string() }).optional(),
      secretKeyRef: z.object({ name: z.string(), key: z.string() }).optional(),
      configMapKeyRef: z.object({ name: z.string(), key: z.string() }).optional(),
    })
    .optional(),
});

export const container = z
  .object({
    name: z.string(),
    image: z.string(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number() })).optional(),
    env: z.array(envVar).optional(),
    envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }).optional(), secretRef: z.object({ name: z.string() }).optional() })).optional(),
    startupProbe: probe.optional(),
    livenessProbe: probe.optional(),
    readinessProbe: probe.optional(),
    lifecycle: z.object({ preStop: z.object({ exec: z.object({ command: z.array(z.string()) }).optional() }).loose().optional() }).optional(),
    resources: z
      .object({
        requests: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
        limits: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      })
      .optional(),
    securityContext: z
      .object({
        allowPrivilegeEscalation: z.boolean().optional(),
        readOnlyRootFilesystem: z.boolean().optional(),
        capabilities: z.object({ drop: z.array(z.string()).optional() }).optional(),
      })
      .optional(),
    volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })).optional(),
  })
  .loose();

export type Container = z.infer<typeof container>;

export const podTemplate = z.object({
  metadata: z.object({ labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()).optional() }).loose(),
  spec: z
    .object({
      containers: z.array(container),
      initContainers: z.array(container).optional(),
      terminationGracePeriodSeconds: z.number().optional(),
      automountServiceAccountToken: z.boolean().optional(),
      securityContext: z
        .object({ runAsNonRoot: z.boolean().optional(), runAsUser: z.number().optional(), seccompProfile: z.object({ type: z.string() }).optional() })
        .loose()
        .optional(),
      volumes: z.array(z.object({ name: z.string(), emptyDir: z.unknown().optional() }).loose()).optional(),
    })
    .loose(),
});

export type PodTemplate = z.infer<typeof podTemplate>;

const metadata = z.object({ name: z.string(), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }).loose();

export const deployment = z.object({
  kind: z.literal("Deployment"),
  metadata,
  spec: z
    .object({
      replicas: z.number().optional(),
      selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
      strategy: z.object({ type: z.string(), rollingUpdate: z.object({ maxSurge: z.union([z.number(), z.string()]), maxUnavailable: z.union([z.number(), z.string()]) }).optional() }).optional(),
      template: podTemplate,
    })
    .loose(),
});

export const job = z.object({ kind: z.literal("Job"), metadata, spec: z.object({ template: podTemplate }).loose() });

export const configMap = z.object({ kind: z.literal("ConfigMap"), metadata, data: z.record(z.string(), z.string()).default({}) });
export const secret = z.object({ kind: z.literal("Secret"), metadata, data: z.record(z.string(), z.string()).default({}) });
export const service = z.object({
  kind: z.literal("Service"),
  metadata,
  spec: z.object({ selector: z.record(z.string(), z.string()), ports: z.array(z.object({ port: z.number(), targetPort: z.union([z.string(), z.number()]) }).loose()) }).loose(),
});
export const pdb = z.object({
  kind: z.literal("PodDisruptionBudget"),
  metadata,
  spec: z.object({ selector: z.object({ matchLabels: z.record(z.string(), z.string()) }) }).loose(),
});
export const hpa = z.object({
  kind: z.literal("HorizontalPodAutoscaler"),
  metadata,
  spec: z.object({
    scaleTargetRef: z.object({ kind: z.string(), name: z.string() }).loose(),
    minReplicas: z.number(),
    maxReplicas: z.number(),
    metrics: z.array(
      z
        .object({
          type: z.string(),
          pods: z.object({ metric: z.object({ name: z.string() }), target: z.object({ type: z.string(), averageValue: z.union([z.string(), z.number()]) }) }).optional(),
          resource: z.object({ name: z.string(), target: z.object({ type: z.string() }).loose() }).optional(),
        })
        .loose(),
    ),
  }).loose(),
});
export const httpRoute = z.object({
  kind: z.literal("HTTPRoute"),
  metadata,
  spec: z.object({
    rules: z.array(
      z.object({
        matches: z.array(z.object({ path: z.object({ type: z.string(), value: z.string() }) })),
        backendRefs: z.array(z.object({ name: z.string(), port: z.number() })),
      }),
    ),
  }).loose(),
});

const anyResource = z.object({ kind: z.string(), metadata }).loose();

export type Resource = z.infer<typeof anyResource>;

/** Renders a kustomization with `kubectl kustomize`, or the standalone `kustomize`, whichever is installed. */
export function renderKustomization(dir: string): Resource[] {
  const [command, args] = hasCommand("kubectl")
    ? ["kubectl", ["kustomize", repoPath(dir)]]
    : hasCommand("kustomize")
      ? ["kustomize", ["build", repoPath(dir)]]
      : [undefined, []];
  if (command === undefined) {
    throw new Error("neither kubectl nor kustomize is installed; install one (apt-get install -y kubectl) to render k8s/");
  }
  const result = run(command, args);
  if (result.status !== 0) throw new Error(`${command} failed on ${dir}: ${result.stderr}`);
  return parseYamlStream(result.stdout).map((doc) => anyResource.parse(doc));
}

export function ofKind<T>(resources: readonly Resource[], schema: z.ZodType<T>, kind: string): T[] {
  return resources.filter((r) => r.kind === kind).map((r) => schema.parse(r));
}
