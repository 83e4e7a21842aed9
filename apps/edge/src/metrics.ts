import type { Metrics } from "@parley/observability";
import { Counter, Gauge, Histogram } from "prom-client";

/** What the gauges read when Prometheus scrapes (computed on demand, never kept in sync by hand). */
export interface GaugeSources {
  connectionStats(): { connections: number; users: number; usersWithMultipleConnections: number };
  subscribedChannels(): number;
  draining(): boolean;
}

export interface EdgeMetrics {
  readonly framesReceived: Counter<"type">;
  readonly framesSent: Counter<"type">;
  readonly closes: Counter<"code">;
  readonly authFailures: Counter<"reason">;
  readonly deliveryLatency: Histogram;
  readonly internalChannelUp: Gauge;
  readonly malformedEvents: Counter;
}

/** The edge's series (infra/ metric names contract), registered on the node's own registry. */
export function createEdgeMetrics(metrics: Metrics, sources: GaugeSources): EdgeMetrics {
  const registers = [metrics.registry];
  new Gauge({
    name: "parley_ws_connections",
    help: "Open WebSocket connections on this node.",
    registers,
    collect() {
      this.set(sources.connectionStats().connections);
    },
  });
  new Gauge({
    name: "parley_ws_connected_users",
    help: "Distinct users with at least one connection on this node.",
    registers,
    collect() {
      this.set(sources.connectionStats().users);
    },
  });
  new Gauge({
    name: "parley_ws_users_with_multiple_connections",
    help: "Users with more than one connection on this node.",
    registers,
    collect() {
      this.set(sources.connectionStats().usersWithMultipleConnections);
    },
  });
  new Gauge({
    name: "parley_ws_draining",
    help: "1 while this node drains its connections before shutting down.",
    registers,
    collect() {
      this.set(sources.draining() ? 1 : 0);
    },
  });
  new Gauge({
    name: "parley_redis_subscribed_channels",
    help: "Redis pub/sub channels this node is subscribed to.",
    registers,
    collect() {
      this.set(sources.subscribedChannels());
    },
  });
  return {
    framesReceived: new Counter({
      name: "parley_ws_frames_received_total",
      help: "Frames received from clients, by frame type (invalid for unparseable frames).",
      labelNames: ["type"],
      registers,
    }),
    framesSent: new Counter({ name: "parley_ws_frames_sent_total", help: "Frames sent to clients, by frame type.", labelNames: ["type"], registers }),
    closes: new Counter({ name: "parley_ws_closes_total", help: "Closed WebSocket connections, by close code.", labelNames: ["code"], registers }),
    authFailures: new Counter({
      name: "parley_auth_failures_total",
      help: "Refused authentications, by reason.",
      labelNames: ["reason"],
      registers,
    }),
    deliveryLatency: new Histogram({
      name: "parley_delivery_latency_seconds",
      help: "Time from the commit of an event to its write on a socket.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    internalChannelUp: new Gauge({
      name: "parley_internal_channel_up",
      help: "1 while commands travel to the API over the internal channel, 0 while they take REST (or it is not configured).",
      registers,
    }),
    malformedEvents: new Counter({
      name: "parley_malformed_events_total",
      help: "Payloads on user channels that did not parse and were skipped.",
      registers,
    }),
  };
}
