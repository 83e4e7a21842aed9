import { z } from "zod";

/** `/config.json`, written by whoever serves the app (the launcher, or the container's entrypoint). */
const runtimeConfig = z.object({
  api_url: z.url(),
  edge_urls: z.array(z.url()).min(1),
});

export type RuntimeConfig = z.output<typeof runtimeConfig>;

export async function loadRuntimeConfig(): Promise<RuntimeConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`GET /config.json answered ${response.status}`);
  const parsed = runtimeConfig.safeParse(await response.json());
  if (!parsed.success) throw new Error(`/config.json is not valid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
