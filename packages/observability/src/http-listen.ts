import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Starts listening; resolves with the bound port (0 picks a free one), rejects when the port is taken. */
export function listenOn(server: Server, port: number, host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
