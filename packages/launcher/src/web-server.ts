import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

/** What the web app fetches at `/config.json` to find the cluster (snake_case like the rest of the wire). */
export interface WebAppConfig {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:3000`. */
  readonly api_url: string;
  /** WebSocket endpoints of the edges; the app picks one and moves to another when it fails. */
  readonly edge_urls: readonly string[];
}

export interface WebServerOptions {
  /** The built app (index.html, assets/). */
  readonly dir: string;
  readonly config: WebAppConfig;
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
}

export interface WebServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops listening and ends open connections; safe to call twice. */
  close(): Promise<void>;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/**
 * A static server for the single-page app: files from `dir`, `/config.json` generated from `config`, and
 * index.html for every other path without a file extension (client-side routes such as /conversations/<id>).
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const root = path.resolve(options.dir);
  const configBody = JSON.stringify(options.config);
  const server = http.createServer((request, response) => {
    void handle(root, configBody, request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      response.end("internal error\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(root: string, configBody: string, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
    response.end("method not allowed\n");
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
  } catch {
    response.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
    response.end("bad path\n");
    return;
  }
  if (pathname === "/config.json") {
    response.writeHead(200, { "content-type": TYPES[".json"], "cache-control": "no-store" });
    response.end(request.method === "HEAD" ? undefined : configBody);
    return;
  }
  const file = path.resolve(root, `.${path.posix.normalize(pathname)}`);
  const inside = file === root || file.startsWith(root + path.sep);
  const found = inside ? await regularFile(file) : undefined;
  if (found !== undefined) {
    // Vite puts a content hash in every name under assets/, so those never change.
    const immutable = pathname.startsWith("/assets/");
    send(response, request.method, file, found, immutable ? "public, max-age=31536000, immutable" : "no-cache");
    return;
  }
  if (path.posix.extname(pathname) === "" && inside) {
    const index = path.join(root, "index.html");
    const size = await regularFile(index);
    if (size !== undefined) {
      send(response, request.method, index, size, "no-cache");
      return;
    }
  }
  response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
  response.end("not found\n");
}

async function regularFile(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

function send(response: http.ServerResponse, method: string, file: string, size: number, cacheControl: string): void {
  response.writeHead(200, {
    "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
    "content-length": size,
    "cache-control": cacheControl,
    "x-content-type-options": "nosniff",
  });
  if (method === "HEAD") {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}
