import { redactConfig } from "@parley/config";
import type { ClusterUrls } from "./launcher";

export interface Setting {
  readonly value: string;
  /** `env`, `default`, or how the launcher found it. */
  readonly source: string;
}

/** Prints the chosen configuration, one variable a line, secrets redacted, each with where it came from. */
export function printSettings(say: (text: string) => void, settings: ReadonlyMap<string, Setting>): void {
  const redacted = redactConfig(Object.fromEntries([...settings].map(([key, setting]) => [key, setting.value])));
  const keys = [...settings.keys()].sort();
  const width = Math.max(...keys.map((key) => key.length));
  say("configuration:");
  for (const key of keys) {
    const setting = settings.get(key);
    if (!setting) continue;
    say(`  ${key.padEnd(width)} = ${shown(setting.value, String(redacted[key]))}  (${setting.source})`);
  }
}

/** The redacted form when redaction hid something; else the value as given (redaction also normalises URLs). */
function shown(value: string, redacted: string): string {
  try {
    if (redacted === new URL(value).toString()) return value;
  } catch {
    // not a URL
  }
  return redacted;
}

/** Prints where everything is once the cluster is ready. */
export function printUrls(say: (text: string) => void, urls: ClusterUrls): void {
  const rows: [string, string][] = [];
  if (urls.web) rows.push(["web", urls.web]);
  if (urls.api) rows.push(["API", urls.api]);
  urls.edges.forEach((edge, index) => rows.push([`edge-${index + 1}`, edge]));
  if (urls.worker) rows.push(["worker", urls.worker]);
  if (urls.inbox) rows.push(["SMTP catcher", urls.inbox]);
  if (urls.metrics.length > 0) rows.push(["metrics", urls.metrics.join(" ")]);
  for (const [label, url] of rows) say(`${label.padEnd(12)} ${url}`);
}
