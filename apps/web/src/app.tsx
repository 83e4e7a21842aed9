import type { RuntimeConfig } from "./runtime-config";
import { parseRoute, useLocation } from "./router";

export function App({ config }: { config: RuntimeConfig }) {
  const route = parseRoute(useLocation());
  return (
    <main>
      <h1>Parley</h1>
      <p>
        {route.name} — {config.api_url}
      </p>
    </main>
  );
}
