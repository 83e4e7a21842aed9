/**
 * A load generator thread: owns whole groups (so every (message, recipient) pair is tracked where it was sent),
 * sends on a fixed schedule and records each delivery: latency, duplicates, losses.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { z } from "zod";
import { createClient, type BenchClient } from "./bench-clients";
import { nowMs, type ClientSpec, type ConnectOutcome, type GroupSpec, type StepOutcome, type WorkerCommand, type WorkerReply } from "./workload";

const init = z.object({ kind: z.enum(["parley", "socketio", "relay"]), workerId: z.number().int().min(0) }).parse(workerData);
const port = parentPort;
if (!port) throw new Error("load-worker runs as a worker thread");
const runId = randomUUID().slice(0, 8);
const TICK_MS = 5;

interface Group {
  readonly conversationId: string;
  readonly clients: BenchClient[];
  /** Bits of a complete delivery: one per member. */
  readonly fullMask: number;
  nextSender: number;
}

interface Pending {
  readonly step: number;
  readonly sentAt: number;
  readonly group: number;
  /** Members still waiting for this message, one bit per slot. */
  remaining: number;
}

const groups: Group[] = [];
let idleClients: BenchClient[] = [];
const pending = new Map<number, Pending>();
/** Messages of earlier steps that were counted lost: a delivery of one later is "late", not "foreign". */
const retired = new Set<number>();
let nextSeq = 0;

/** Counters of the running step, reset by each step. */
let current = freshCounters(-1, 0, 0);

function freshCounters(step: number, windowStart: number, windowEnd: number) {
  return {
    step,
    windowStart,
    windowEnd,
    delivered: 0,
    deliveredInWindow: 0,
    duplicates: 0,
    late: 0,
    foreign: 0,
    sendErrors: 0,
    sendErrorCodes: {} as Record<string, number>,
    closed: 0,
    /** Messages of this step not yet delivered to every member. */
    outstanding: 0,
    latencies: [] as number[],
  };
}

function onDelivery(groupIndex: number, slot: number, content: string): void {
  const at = nowMs();
  const [worker, seqText] = content.split(":", 2);
  const seq = Number(seqText);
  if (worker !== String(init.workerId) || !Number.isInteger(seq)) {
    current.foreign++;
    return;
  }
  const entry = pending.get(seq);
  if (!entry) {
    // Completed messages leave `pending` at the end of their step: a later copy of one is a duplicate.
    if (retired.has(seq)) current.late++;
    else if (seq < nextSeq) current.duplicates++;
    else current.foreign++;
    return;
  }
  if (entry.group !== groupIndex) {
    current.foreign++;
    return;
  }
  const bit = 1 << slot;
  if ((entry.remaining & bit) === 0) {
    current.duplicates++;
    return;
  }
  entry.remaining &= ~bit;
  if (entry.remaining === 0 && entry.step === current.step) current.outstanding--;
  current.delivered++;
  current.latencies.push(at - entry.sentAt);
  if (at >= current.windowStart && at <= current.windowEnd) current.deliveredInWindow++;
}

function events(groupIndex: number, slot: number) {
  return {
    onDelivery: (content: string) => onDelivery(groupIndex, slot, content),
    onSendError: (code: string) => {
      current.sendErrors++;
      current.sendErrorCodes[code] = (current.sendErrorCodes[code] ?? 0) + 1;
    },
    onClosed: () => {
      current.closed++;
    },
  };
}

const noEvents = { onDelivery: () => undefined, onSendError: () => undefined, onClosed: () => undefined };

/** Connects `count` clients, at most `concurrency` handshakes at a time. */
async function connectAll(clients: readonly BenchClient[], concurrency: number): Promise<ConnectOutcome> {
  const started = performance.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, clients.length)) }, async () => {
      while (next < clients.length) {
        const client = clients[next++]!;
        try {
          await client.connect();
          connected++;
        } catch (error) {
          failed++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  return { connected, failed, firstError, ms: performance.now() - started };
}

function connectGroups(specs: readonly GroupSpec[], concurrency: number): Promise<ConnectOutcome> {
  const all: BenchClient[] = [];
  for (const spec of specs) {
    const groupIndex = groups.length;
    if (spec.members.length > 30) throw new Error("at most 30 members per group (one bit each)");
    const clients = spec.members.map((member, slot) => createClient(init.kind, member, events(groupIndex, slot)));
    groups.push({ conversationId: spec.conversationId, clients, fullMask: (1 << clients.length) - 1, nextSender: 0 });
    all.push(...clients);
  }
  return connectAll(all, concurrency);
}

function connectIdle(specs: readonly ClientSpec[], concurrency: number): Promise<ConnectOutcome> {
  idleClients = specs.map((spec) => createClient(init.kind, spec, noEvents));
  return connectAll(idleClients, concurrency);
}

function sendOne(step: number): void {
  const groupIndex = nextSeq % groups.length;
  const group = groups[groupIndex]!;
  const sender = group.clients[group.nextSender]!;
  group.nextSender = (group.nextSender + 1) % group.clients.length;
  const seq = nextSeq++;
  const sentAt = nowMs();
  pending.set(seq, { step, sentAt, group: groupIndex, remaining: group.fullMask });
  current.outstanding++;
  sender.send(group.conversationId, `${runId}-${init.workerId}-${seq}`, `${init.workerId}:${seq}:${sentAt.toFixed(3)}`);
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - nowMs())));
}

async function runStep(command: Extract<WorkerCommand, { op: "step" }>): Promise<StepOutcome> {
  const { startAt, durationMs, rate, step } = command;
  const endAt = startAt + durationMs;
  current = freshCounters(step, startAt, endAt);
  await sleepUntil(startAt);
  const elu = performance.eventLoopUtilization();
  let sent = 0;
  let maxLag = 0;
  if (groups.length > 0 && rate > 0) {
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = nowMs();
        const due = Math.min(Math.floor(((Math.min(now, endAt) - startAt) * rate) / 1000), Math.floor((durationMs * rate) / 1000));
        if (due > sent) maxLag = Math.max(maxLag, now - (startAt + ((sent + 1) * 1000) / rate));
        while (sent < due) {
          sendOne(step);
          sent++;
        }
        if (now >= endAt) resolve();
        else setTimeout(tick, TICK_MS);
      };
      tick();
    });
  }
  const utilization = performance.eventLoopUtilization(elu).utilization;
  // Wait for what is still on its way, up to the drain deadline.
  const drainUntil = endAt + command.drainMs;
  while (nowMs() < drainUntil && current.outstanding > 0) await sleepUntil(Math.min(drainUntil, nowMs() + 20));
  let lost = 0;
  for (const [seq, entry] of pending) {
    if (entry.step !== step) continue;
    let bits = entry.remaining;
    while (bits !== 0) {
      lost += bits & 1;
      bits >>>= 1;
    }
    pending.delete(seq);
    if (entry.remaining !== 0) retired.add(seq);
  }
  const groupSize = groups[0]?.clients.length ?? 0;
  return {
    sent,
    sendErrors: current.sendErrors,
    sendErrorCodes: current.sendErrorCodes,
    expected: sent * groupSize,
    delivered: current.delivered,
    deliveredInWindow: current.deliveredInWindow,
    duplicates: current.duplicates,
    lost,
    late: current.late,
    foreign: current.foreign,
    latenciesMs: Float64Array.from(current.latencies),
    maxScheduleLagMs: maxLag,
    eventLoopUtilization: utilization,
    closed: current.closed,
  };
}

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

port.on("message", (command: WorkerCommand) => {
  const handle = async (): Promise<void> => {
    switch (command.op) {
      case "connect-groups":
        reply({ op: "connected", outcome: await connectGroups(command.groups, command.concurrency) });
        return;
      case "connect-idle":
        reply({ op: "connected", outcome: await connectIdle(command.clients, command.concurrency) });
        return;
      case "close-idle":
        for (const client of idleClients) client.close();
        idleClients = [];
        reply({ op: "idle-closed" });
        return;
      case "step":
        reply({ op: "step-done", outcome: await runStep(command) });
        return;
      case "close":
        for (const group of groups) for (const client of group.clients) client.close();
        for (const client of idleClients) client.close();
        reply({ op: "closed" });
        return;
    }
  };
  handle().catch((error: unknown) => reply({ op: "failed", message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
});
