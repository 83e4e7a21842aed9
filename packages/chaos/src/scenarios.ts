import { waitFor } from "@parley/testing";
import type postgres from "postgres";
import type { ChaosCluster, Node } from "./cluster";
import type { Fleet } from "./fleet";

export interface FaultContext {
  readonly cluster: ChaosCluster;
  readonly fleet: Fleet;
  readonly sql: postgres.Sql;
  /** How long the stalled edge stays stopped. */
  readonly stallMs: number;
  /** Records a drain window [start, end]: reconnects in it are counted per second. */
  readonly drained: (start: number, end: number) => void;
  /** A line for the report (what the fault did, what the cluster said). */
  readonly note: (text: string) => void;
}

export interface Scenario {
  readonly name: string;
  /** The fault, as the docs' table states it. */
  readonly fault: string;
  /** API nodes running at the start (the balancer spreads over them). */
  readonly apis: 1 | 2;
  /** Offline recipients with e-mail addresses (the worker's run). */
  readonly offlineRecipients?: number;
  /** Breaks the cluster and brings it back; returns once the fault is over (clients may still be reconnecting). */
  run(ctx: FaultContext): Promise<void>;
}

/** Runs `during` with the node frozen (SIGSTOP), and thaws it (SIGCONT) however `during` ends. */
async function whileStopped(node: Node, during: () => Promise<unknown>): Promise<void> {
  node.signal("SIGSTOP");
  try {
    await during();
  } finally {
    node.signal("SIGCONT");
  }
}

const acked = (fleet: Fleet) => fleet.records.reduce((sum, record) => sum + record.acked.length, 0);
const pending = (fleet: Fleet) => fleet.records.reduce((sum, record) => sum + record.client.outbox().length, 0);

/** Waits until the fleet's sends make progress again: `count` more acks than now. */
export async function progress(fleet: Fleet, count: number, timeoutMs = 60_000): Promise<void> {
  const from = acked(fleet);
  await waitFor(() => acked(fleet) >= from + count, { timeout: timeoutMs, interval: 100, message: `${count} more sends acked` });
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "edge-kill",
    fault: "SIGKILL edge-1, restart it once its clients moved",
    apis: 1,
    async run({ cluster, fleet }) {
      await cluster.edge(0).kill();
      await waitFor(() => fleet.allOpen(), { timeout: 60_000, interval: 100, message: "clients of the killed edge reconnected" });
      await cluster.edge(0).start();
    },
  },
  {
    name: "rolling-restart",
    fault: "SIGTERM each edge in turn (drain), restart it, next",
    apis: 1,
    async run({ cluster, fleet, drained }) {
      for (const edge of cluster.edges) {
        const start = Date.now();
        await edge.stop();
        drained(start, Date.now() + 1_000);
        await edge.start();
        await waitFor(() => fleet.allOpen(), { timeout: 60_000, interval: 100, message: `clients of ${edge.name} reconnected` });
      }
    },
  },
  {
    name: "api-kill",
    fault: "SIGKILL the API mid-stream; restart it after sends queued up",
    apis: 1,
    async run({ cluster, fleet, note }) {
      await cluster.api(0).kill();
      await waitFor(() => pending(fleet) > 0, { timeout: 30_000, interval: 50, message: "sends waiting in the outboxes" });
      note(`${pending(fleet)} sends waiting while the API was down`);
      await cluster.api(0).start();
    },
  },
  {
    name: "api-failover",
    fault: "two API nodes behind a TCP balancer; SIGKILL one, it stays down",
    apis: 2,
    async run({ cluster, fleet }) {
      await cluster.api(1).kill();
      await progress(fleet, 20);
    },
  },
  {
    name: "redis-restart-lost",
    fault: "edge-1 stalls (SIGSTOP) so its clients miss events; Redis restarts without persistence (streams, queues, presence lost); the clients resume elsewhere; SIGCONT",
    apis: 1,
    async run({ cluster, fleet, note }) {
      const edge = cluster.edge(0);
      await whileStopped(edge, async () => {
        await progress(fleet, 5);
        await cluster.redis.restart({ keepData: false });
        await progress(fleet, 5);
        await waitFor(() => fleet.allOpen() && fleet.on(edge.name) === 0, { timeout: 60_000, interval: 100, message: "clients of the stalled edge reconnected elsewhere" });
      });
      note("clients resumed from positions in the lost streams");
    },
  },
  {
    name: "redis-restart-kept",
    fault: "restart Redis with persistence (AOF, appendfsync always)",
    apis: 1,
    async run({ cluster, fleet }) {
      await cluster.redis.restart({ keepData: true });
      await progress(fleet, 20);
    },
  },
  {
    name: "postgres-restart",
    fault: "restart PostgreSQL (pg_ctl restart -m fast)",
    apis: 1,
    async run({ cluster, fleet, note }) {
      const before = acked(fleet);
      note(cluster.database.mode === "own-server" ? "own PostgreSQL server restarted" : "shared server: the suite database's backends terminated (pg_terminate_backend)");
      await cluster.database.restart();
      const api = cluster.api(0);
      // With the unpatched postgres.js driver the API may die of the restart: restart it as an orchestrator would,
      // so the verdict still says whether anything was lost (the crash itself is reported).
      await waitFor(() => api.crashes > 0 || acked(fleet) >= before + 20, { timeout: 60_000, interval: 100, message: "20 more sends acked, or the API gone" });
      if (api.crashes > 0) {
        note(`the API died: ${crashLine(api.output())}; restarted`);
        await api.start();
        await progress(fleet, 20);
      }
    },
  },
  {
    name: "worker-kill",
    fault: "SIGKILL the worker after its first offline e-mail, restart it",
    apis: 1,
    offlineRecipients: 30,
    async run({ cluster, fleet, sql, note }) {
      const ids = fleet.mailConversations.map((conversation) => conversation.id);
      const mailed = () => cluster.smtp.messages().filter((mail) => ids.some((id) => mail.text.includes(id))).length;
      fleet.sendToOffline(3);
      await waitFor(() => mailed() > 0, { timeout: 60_000, interval: 20, message: "the first offline e-mail" });
      await cluster.worker.kill();
      note(`worker killed after ${mailed()} of ${ids.length} mails`);
      await cluster.worker.start();
      await waitFor(
        async () => {
          // Caught up, and no claim left half-done (a job the kill interrupted is retried once BullMQ sees it stalled).
          const [row] = await sql<{ behind: number; open: number }[]>`
            SELECT
              (SELECT count(*)::int FROM participants p
                WHERE p.conversation_id = ANY(${ids}::uuid[]) AND p.user_id = ANY(${fleet.offline.map((user) => user.id)}::text[])
                  AND p.notified_seq < (SELECT coalesce(max(seq), 0) FROM messages m WHERE m.conversation_id = p.conversation_id)) AS behind,
              (SELECT count(*)::int FROM email_log WHERE conversation_id = ANY(${ids}::uuid[]) AND status = 'claimed') AS open`;
          return row?.behind === 0 && row.open === 0;
        },
        { timeout: 150_000, interval: 250, message: "every offline recipient notified, no claim left open" },
      );
    },
  },
  {
    name: "edge-stall",
    fault: "SIGSTOP edge-2, SIGCONT after the stall",
    apis: 1,
    async run({ cluster, stallMs, note }) {
      // The stall is the fault itself: the edge stays frozen this long, whatever the clients do meanwhile.
      await whileStopped(cluster.edge(1), () => new Promise((resolve) => setTimeout(resolve, stallMs)));
      note(`edge-2 stopped for ${stallMs / 1000} s`);
    },
  },
];

/** The line of a crash's output that names the error. */
function crashLine(output: string): string {
  const lines = output.split("\n");
  const line = lines.find((candidate) => candidate.includes("nextWrite")) ?? lines.find((candidate) => /^\s*(TypeError|Error)\b/.test(candidate));
  return line === undefined ? "no error in its output" : line.trim().slice(0, 160);
}
