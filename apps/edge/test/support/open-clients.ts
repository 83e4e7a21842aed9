import type { RunningEdge, TestUser } from "./cluster";
import { TestClient } from "./ws-client";

/** The sockets a test file opened, terminated after each test and once more when the file ends. */
export class OpenClients {
  private clients: TestClient[] = [];

  /** Opens an authenticated socket on `edge` and remembers it. */
  async connect(edge: RunningEdge, user: TestUser): Promise<TestClient> {
    return this.track(await TestClient.connect(edge.url, user.token));
  }

  track(client: TestClient): TestClient {
    this.clients.push(client);
    return client;
  }

  closeAll(): void {
    for (const client of this.clients) client.ws.terminate();
    this.clients = [];
  }
}
