/** What the main thread and the load generator's worker threads say to each other (structured clone, no parsing). */

/** Which client protocol a worker speaks: Parley's public WebSocket protocol, Socket.IO 4, or the bare relay's. */
export type ProtocolKind = "parley" | "socketio" | "relay";

export interface ClientSpec {
  /** Where this client connects (one of the target's nodes). */
  readonly url: string;
  /** Bearer token (empty for the relay, which has no auth). */
  readonly token: string;
}

/** A group conversation and its members in slot order (slot n connects to node n % nodes). */
export interface GroupSpec {
  readonly conversationId: string;
  readonly members: readonly ClientSpec[];
}

/** Main -> worker. */
export type WorkerCommand =
  | { readonly op: "connect-groups"; readonly groups: readonly GroupSpec[]; readonly concurrency: number }
  | { readonly op: "connect-idle"; readonly clients: readonly ClientSpec[]; readonly concurrency: number }
  | { readonly op: "close-idle" }
  | {
      readonly op: "step";
      readonly step: number;
      /** Messages per second this worker sends. */
      readonly rate: number;
      /** Absolute start time (performance.timeOrigin + performance.now(), ms): every worker starts together. */
      readonly startAt: number;
      readonly durationMs: number;
      /** How long after the send window to wait for outstanding deliveries before counting them lost. */
      readonly drainMs: number;
    }
  | { readonly op: "close" };

export interface ConnectOutcome {
  readonly connected: number;
  readonly failed: number;
  /** The first failure, for the error message. */
  readonly firstError: string | undefined;
  readonly ms: number;
}

export interface StepOutcome {
  readonly sent: number;
  /** Sends refused by the target (an error answer instead of an ack). */
  readonly sendErrors: number;
  readonly sendErrorCodes: Readonly<Record<string, number>>;
  /** (message, recipient) pairs expected: sent x group size. */
  readonly expected: number;
  readonly delivered: number;
  /** Deliveries that arrived inside the send window (for deliveries/s). */
  readonly deliveredInWindow: number;
  readonly duplicates: number;
  readonly lost: number;
  /** Deliveries of messages of an earlier step that had been counted lost. */
  readonly late: number;
  /** Deliveries of messages this worker never sent (a routing bug in the target). */
  readonly foreign: number;
  /** send -> deliver latency of every delivery, ms. */
  readonly latenciesMs: Float64Array;
  /** Longest time the send schedule was behind (event loop busy), ms. */
  readonly maxScheduleLagMs: number;
  /** Event loop utilisation of this worker during the window (0..1). */
  readonly eventLoopUtilization: number;
  /** Connections closed by the target during the step. */
  readonly closed: number;
}

/** Worker -> main. */
export type WorkerReply =
  | { readonly op: "connected"; readonly outcome: ConnectOutcome }
  | { readonly op: "idle-closed" }
  | { readonly op: "step-done"; readonly outcome: StepOutcome }
  | { readonly op: "closed" }
  | { readonly op: "failed"; readonly message: string };

/** Absolute milliseconds on a clock shared by every thread of the process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
