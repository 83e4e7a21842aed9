import net from "node:net";

/**
 * A round-robin TCP load balancer in front of the API nodes, as a deployment has one: a connection goes to the next
 * backend; one that refuses the connection is skipped for the next. No health checks and no stickiness, like a plain
 * L4 balancer: a node that dies takes its open connections with it.
 */
export class TcpBalancer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private backends: number[] = [];
  private next = 0;
  private closing: Promise<void> | undefined;

  private constructor() {
    this.server = net.createServer((client) => {
      this.track(client);
      this.forward(client, 0);
    });
  }

  static async start(backends: readonly number[]): Promise<TcpBalancer> {
    const balancer = new TcpBalancer();
    balancer.setBackends(backends);
    await new Promise<void>((resolve, reject) => {
      balancer.server.once("error", reject);
      balancer.server.listen(0, "127.0.0.1", resolve);
    });
    return balancer;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address !== null ? address.port : 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The ports connections are spread over from now on. */
  setBackends(ports: readonly number[]): void {
    this.backends = [...ports];
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      for (const socket of this.sockets) socket.destroy();
      this.server.close(() => resolve());
    });
    return this.closing;
  }

  private forward(client: net.Socket, tried: number): void {
    if (client.destroyed) return;
    if (this.backends.length === 0 || tried >= this.backends.length) {
      client.destroy();
      return;
    }
    const port = this.backends[this.next++ % this.backends.length] ?? 0;
    const upstream = net.connect({ host: "127.0.0.1", port });
    this.track(upstream);
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on("error", () => {
      if (!connected) this.forward(client, tried + 1);
      else client.destroy();
    });
    upstream.on("close", () => {
      if (connected) client.destroy();
    });
    client.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
  }
}
