import net from "node:net";

/** Listens on `port` at `host`, resolving with the bound port; rejects on EADDRINUSE and other errors. */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off("listening", onListening);
      reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/** Whether nothing listens on `port` of `host` yet (checked by binding it for a moment). */
export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  const server = net.createServer();
  try {
    await listenOn(server, port, host);
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `preferred` when it is free, else a port the kernel picks; the caller binds it right after. */
export async function freePort(preferred: number, host = "127.0.0.1"): Promise<number> {
  if (preferred !== 0 && (await isPortFree(preferred, host))) return preferred;
  const server = net.createServer();
  try {
    return await listenOn(server, 0, host);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === "EADDRINUSE";
}
