import { render } from "preact";
import { App } from "./app";
import { loadRuntimeConfig } from "./runtime-config";
import "./styles.css";

const root = document.getElementById("app");
if (root) {
  loadRuntimeConfig().then(
    (config) => render(<App config={config} />, root),
    (error: unknown) => {
      root.textContent = `Parley cannot start: ${error instanceof Error ? error.message : String(error)}`;
    },
  );
}
