export type PresenceStatus = "online" | "away" | "busy" | "offline";

/** A coloured dot with its status as text for screen readers and a tooltip. */
export function PresenceDot({ status }: { status: PresenceStatus | undefined }) {
  const shown = status ?? "offline";
  return <span class={`presence presence-${shown}`} role="img" aria-label={shown} title={shown} />;
}
