/** Sum and count of one route's parley_http_request_duration_seconds series, summed over status codes. */
export interface RouteTiming {
  readonly sumSeconds: number;
  readonly count: number;
}

const SERIES = /^parley_http_request_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/;

/**
 * Reads the API's own request-duration histogram (from its ops port, `opsUrl`): server-side time without the client
 * and the socket. An API from before the ops port (an A/B run with `--api-dir`) served it on its public `fallbackUrl`.
 */
export async function scrapeRouteTimings(opsUrl: string, fallbackUrl?: string): Promise<Map<string, RouteTiming>> {
  let response: Response;
  try {
    response = await fetch(`${opsUrl}/metrics`);
  } catch (error) {
    if (fallbackUrl === undefined) throw error;
    response = await fetch(`${fallbackUrl}/metrics`);
  }
  if (response.status !== 200) throw new Error(`GET ${response.url} answered ${response.status}`);
  const text = await response.text();
  const out = new Map<string, { sumSeconds: number; count: number }>();
  for (const line of text.split("\n")) {
    const match = SERIES.exec(line);
    if (!match) continue;
    const [, kind, labelText = "", value = "0"] = match;
    const labels = new Map([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""]));
    const key = `${labels.get("method") ?? "?"} ${labels.get("route") ?? "?"}`;
    const entry = out.get(key) ?? { sumSeconds: 0, count: 0 };
    if (kind === "sum") entry.sumSeconds += Number(value);
    else entry.count += Number(value);
    out.set(key, entry);
  }
  return out;
}

/** Mean server-side milliseconds of `route` between two scrapes (NaN when no request fell between them). */
export function meanServerMs(before: Map<string, RouteTiming>, after: Map<string, RouteTiming>, route: string): number {
  const a = after.get(route);
  const b = before.get(route) ?? { sumSeconds: 0, count: 0 };
  if (!a || a.count === b.count) return Number.NaN;
  return Math.round(((a.sumSeconds - b.sumSeconds) / (a.count - b.count)) * 1_000_000) / 1000;
}
