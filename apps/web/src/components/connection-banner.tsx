import type { ConnectionState } from "@parley/sdk";

/** Says when live updates are not flowing; messages typed meanwhile wait in the outbox. */
export function ConnectionBanner({ state }: { state: ConnectionState }) {
  if (state === "open" || state === "idle") return null;
  const text =
    state === "connecting"
      ? "Connecting…"
      : state === "reconnecting"
        ? "Connection lost — reconnecting… Messages you send are kept and go out when it is back."
        : state === "offline"
          ? "Cannot reach Parley — still trying. Messages you send are kept and go out when the connection is back."
          : "Disconnected. Reload the page to reconnect.";
  return (
    <div class={`banner${state === "offline" || state === "closed" ? " offline" : ""}`} role="status" data-testid="connection-banner">
      {text}
    </div>
  );
}
