const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;

/** Parses `500`, `500ms`, `2s`, `5m`, `12h`, `90d` into milliseconds; returns undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? "ms") as keyof typeof UNIT_MS;
  const ms = Math.round(amount * UNIT_MS[unit]);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
