import type { RunningEdge, TestUser } from "./cluster";
import { WsClient } from "@parley/testing/ws-client";

/** The sockets a test file opened, terminated after each test and once more when the file ends. */
export class OpenClients {
  private clients: WsClient[] = [];

  /** Opens an authenticated socket on `edge` and remembers it. */
  async connect(edge: RunningEdge, user: TestUser): Promise<WsClient> {
    return this.track(await WsClient.connect(edge.url, user.token));
  }

  track(client: WsClient): WsClient {
    this.clients.push(client);
    return client;
  }

  closeAll(): void {
    for (const client of this.clients) client.ws.terminate();
    this.clients = [];
  }
}
