import { waitFor, type AppProcess } from "@parley/testing";
import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge } from "./support/cluster";
import { ResumingReceiver, StreamingSender } from "./support/resilient-clients";
import { handshakeStatus, WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeB: RunningEdge;

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  edgeB = await cluster.startEdge();
  return cluster;
});

const MESSAGES = 40;
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Sender and receiver start on edge A (a child process); `stopA` ends it mid-stream; both carry on via edge B. */
async function streamThrough(stopA: (edgeA: AppProcess & { wsUrl: string }) => Promise<void>) {
  const [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
  const conversationId = await cluster.directConversation(alice, bob);
  const edgeA = await cluster.startEdgeProcess(`edge-a-${Date.now()}`, { DRAIN_SPREAD_MS: "1000" });
  let aAlive = true;
  // Clients prefer A while it accepts connections, like a load balancer that has not noticed yet.
  const urls = () => (aAlive ? [edgeA.wsUrl, edgeB.url] : [edgeB.url]);
  const receiver = new ResumingReceiver(bob, conversationId, urls);
  const sender = new StreamingSender(alice, conversationId, urls);
  await receiver.start();
  let stopping: Promise<void> | undefined;
  await sender.run(MESSAGES, (acked) => {
    if (acked === 10) {
      stopping = stopA(edgeA).finally(() => {
        aAlive = false;
      });
    }
  });
  await stopping;
  aAlive = false;
  await waitFor(() => receiver.seqs().length >= MESSAGES, { timeout: 10_000, message: `receiver got ${receiver.seqs().length} of ${MESSAGES}` });
  receiver.stop();
  sender.stop();
  return { receiver, sender, edgeA };
}

describe("drain", () => {
  it("drains on SIGTERM: readiness 503, no new upgrades, reconnect frames spread out, close 1012, exit 0, and nothing lost or doubled", async () => {
    const { receiver, sender, edgeA } = await streamThrough(async (edge) => {
      await edge.stop("SIGTERM");
    });
    expect(receiver.seqs()).toEqual(range(MESSAGES));
    expect(receiver.closeCodes[0]).toBe(1012);
    expect(sender.closeCodes[0]).toBe(1012);
    expect(receiver.reconnectFrames[0]).toMatchObject({ type: "reconnect", reason: "draining" });
    expect(typeof receiver.reconnectFrames[0]?.after_ms).toBe("number");
    expect(await edgeA.exited).toBe(0);
  });

  it("loses nothing when edge A is killed without warning (SIGKILL): clients resume on edge B", async () => {
    const { receiver, sender, edgeA } = await streamThrough(async (edge) => {
      await edge.kill();
    });
    expect(receiver.seqs()).toEqual(range(MESSAGES));
    expect(receiver.closeCodes[0]).toBe(1006);
    expect(sender.closeCodes[0]).toBe(1006);
    expect(await edgeA.exited).toBeNull();
  });

  it("refuses new upgrades and reports not ready while draining", async () => {
    const user = await cluster.register();
    const edgeA = await cluster.startEdgeProcess(`edge-drain-${Date.now()}`, { DRAIN_SPREAD_MS: "1500" });
    const clients = await Promise.all([WsClient.connect(edgeA.wsUrl, user.token), WsClient.connect(edgeA.wsUrl, user.token)]);
    const stopped = edgeA.stop("SIGTERM");
    await waitFor(async () => (await fetch(`${edgeA.url}/readyz`)).status === 503, { timeout: 3_000 });
    expect(await handshakeStatus(edgeA.wsUrl, { token: user.token })).toBe(503);
    const afterMs = await Promise.all(clients.map(async (client) => (await client.next((frame) => frame.type === "reconnect")).after_ms as number));
    expect(afterMs.sort((a, b) => a - b)).toEqual([0, 1500]);
    expect((await Promise.all(clients.map((client) => client.closed))).map((closed) => closed.code)).toEqual([1012, 1012]);
    expect(await stopped).toBe(0);
  });
});
