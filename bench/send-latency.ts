/**
 * Send latency of the API against its cheapest authenticated read, both measured in the same process tree:
 * `POST /v1/conversations/:id/messages` versus `GET /v1/users/me`, sequentially (interleaved one for one, so
 * load from elsewhere on the machine hits both alike) and with several clients at once.
 *
 *   pnpm --filter @parley/bench bench -- [--name latest] [--sequential 2000] [--concurrent 2000] [--concurrency 8]
 *     [--warmup 200] [--groups 10] [--messages-per-group 20] [--cpu-prof DIR] [--api-env KEY=VALUE ...] [--api-dir DIR]
 *
 * Results go to bench/results/<name>.json. --api-dir starts another checkout's apps/api (an A/B comparison
 * against a copy of the tree at an older commit); the database is migrated by this checkout's @parley/db.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { API_DIR, startApiFixture, type BenchPair } from "./src/api-fixture";
import type { JsonClient } from "./src/json-client";
import { meanServerMs, scrapeRouteTimings } from "./src/server-timings";
import { percentile, ratio, summarize, type LatencySummary } from "./src/stats";
import { benchArgs } from "./src/cli-args";
import { gitState } from "./src/git-state";

const SEND_ROUTE = "POST /v1/conversations/:id/messages";
const GET_ROUTE = "GET /v1/users/me";
const HERE = path.dirname(fileURLToPath(import.meta.url));

const args = benchArgs({
  name: { type: "string", default: "latest" },
  sequential: { type: "string", default: "2000" },
  concurrent: { type: "string", default: "2000" },
  concurrency: { type: "string", default: "8" },
  warmup: { type: "string", default: "200" },
  groups: { type: "string", default: "10" },
  "messages-per-group": { type: "string", default: "20" },
  "cpu-prof": { type: "string" },
  "api-env": { type: "string", multiple: true, default: [] },
  "api-dir": { type: "string" },
});

function count(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, not ${String(text)}`);
  return value;
}

const settings = {
  sequential: count("sequential", args.sequential),
  concurrent: count("concurrent", args.concurrent),
  concurrency: Math.max(1, count("concurrency", args.concurrency)),
  warmup: count("warmup", args.warmup),
  groups: count("groups", args.groups),
  messagesPerGroup: count("messages-per-group", args["messages-per-group"]),
};
if (!/^[\w.-]+$/.test(args.name)) throw new Error("--name may hold letters, digits, '.', '_' and '-' only");

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function send(client: JsonClient, pair: BenchPair, i: number) {
  return client.request("POST", `/v1/conversations/${pair.conversationId}/messages`, pair.sender.token, {
    client_msg_id: randomUUID(),
    content: `bench message ${i}`,
  });
}

function getMe(client: JsonClient, pair: BenchPair) {
  return client.request("GET", "/v1/users/me", pair.sender.token);
}

interface Samples {
  readonly ms: number[];
  errors: number;
}

function record(samples: Samples, status: number, ms: number, expected: number): void {
  if (status === expected) samples.ms.push(ms);
  else samples.errors++;
}

/** Sends and GETs one after the other on one connection's worth of traffic: pure latency. */
async function sequentialPhase(client: JsonClient, pair: BenchPair, iterations: number) {
  const sends: Samples = { ms: [], errors: 0 };
  const gets: Samples = { ms: [], errors: 0 };
  for (let i = 0; i < iterations; i++) {
    const sent = await send(client, pair, i);
    record(sends, sent.status, sent.ms, 201);
    const got = await getMe(client, pair);
    record(gets, got.status, got.ms, 200);
  }
  const busy = (samples: Samples) => samples.ms.reduce((sum, value) => sum + value, 0);
  return { send: summarize(sends.ms, sends.errors, busy(sends)), get: summarize(gets.ms, gets.errors, busy(gets)), sendSamples: sends.ms };
}

/** `total` requests spread over one worker per pair, all in flight together: latency under load and throughput. */
async function concurrentPhase(pairs: readonly BenchPair[], total: number, request: (pair: BenchPair, i: number) => Promise<{ status: number; ms: number }>, expected: number) {
  const samples: Samples = { ms: [], errors: 0 };
  let next = 0;
  const started = performance.now();
  await Promise.all(
    pairs.map(async (pair) => {
      while (next < total) {
        const i = next++;
        const response = await request(pair, i);
        record(samples, response.status, response.ms, expected);
      }
    }),
  );
  return summarize(samples.ms, samples.errors, performance.now() - started);
}

function row(label: string, s: LatencySummary): string {
  const cell = (v: number) => v.toFixed(2).padStart(8);
  return `${label.padEnd(22)}${cell(s.p50_ms)}${cell(s.p95_ms)}${cell(s.p99_ms)}${cell(s.mean_ms)}${s.throughput_rps.toFixed(1).padStart(10)}${String(s.errors).padStart(7)}`;
}

async function main(): Promise<void> {
  const extraEnv: Record<string, string> = {};
  for (const pair of args["api-env"]) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`--api-env takes KEY=VALUE, not ${pair}`);
    extraEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (args["cpu-prof"] !== undefined) {
    const dir = path.resolve(args["cpu-prof"]);
    mkdirSync(dir, { recursive: true });
    // Written by the API process when it exits (SIGTERM at the end of the run).
    extraEnv.BENCH_CPU_PROF_DIR = dir;
    extraEnv.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --import tsx --import ${path.join(HERE, "src", "cpu-profile-hook.ts")}`.trim();
  }

  const loadBefore = os.loadavg();
  print(`starting the API (${settings.concurrency} pairs, ${settings.groups} groups x ${settings.messagesPerGroup} messages)...`);
  const apiDir = args["api-dir"] === undefined ? API_DIR : path.resolve(args["api-dir"]);
  const fixture = await startApiFixture({ pairs: settings.concurrency, groups: settings.groups, messagesPerGroup: settings.messagesPerGroup }, extraEnv, apiDir);
  try {
    const { client, pairs } = fixture;
    const first = pairs[0];
    if (!first) throw new Error("no pair");

    print(`warming up (${settings.warmup} sends and GETs)...`);
    await sequentialPhase(client, first, settings.warmup);

    print(`sequential: ${settings.sequential} sends interleaved with ${settings.sequential} GETs...`);
    const beforeSequential = await scrapeRouteTimings(fixture.api.opsUrl, fixture.api.url);
    const sequential = await sequentialPhase(client, first, settings.sequential);
    const afterSequential = await scrapeRouteTimings(fixture.api.opsUrl, fixture.api.url);
    const tenth = Math.max(1, Math.floor(sequential.sendSamples.length / 10));
    const p50Of = (values: number[]) => Math.round(percentile([...values].sort((a, b) => a - b), 0.5) * 1000) / 1000;

    print(`concurrent: ${settings.concurrent} GETs, then ${settings.concurrent} sends, ${settings.concurrency} clients...`);
    const beforeConcurrent = await scrapeRouteTimings(fixture.api.opsUrl, fixture.api.url);
    const concurrentGet = await concurrentPhase(pairs, settings.concurrent, (pair) => getMe(client, pair), 200);
    const concurrentSend = await concurrentPhase(pairs, settings.concurrent, (pair, i) => send(client, pair, i), 201);
    const afterConcurrent = await scrapeRouteTimings(fixture.api.opsUrl, fixture.api.url);

    const result = {
      name: args.name,
      finished_at: new Date().toISOString(),
      // The commit the measured API was started from, and whether its apps/api or packages had uncommitted changes.
      git: gitState(apiDir, [".", "../../packages"]),
      api_dir: path.relative(HERE, apiDir),
      machine: { cpus: os.cpus().length, node: process.version, loadavg_before: loadBefore, loadavg_after: os.loadavg() },
      settings,
      sequential: {
        send: sequential.send,
        get: sequential.get,
        ratio_p50: ratio(sequential.send.p50_ms, sequential.get.p50_ms),
        ratio_p95: ratio(sequential.send.p95_ms, sequential.get.p95_ms),
        server_mean_ms: { send: meanServerMs(beforeSequential, afterSequential, SEND_ROUTE), get: meanServerMs(beforeSequential, afterSequential, GET_ROUTE) },
        // The recipient never reads: its unread count grows by one per send.
        send_p50_first_tenth_ms: p50Of(sequential.sendSamples.slice(0, tenth)),
        send_p50_last_tenth_ms: p50Of(sequential.sendSamples.slice(-tenth)),
      },
      concurrent: {
        clients: pairs.length,
        send: concurrentSend,
        get: concurrentGet,
        ratio_p50: ratio(concurrentSend.p50_ms, concurrentGet.p50_ms),
        throughput_ratio_get_over_send: ratio(concurrentGet.throughput_rps, concurrentSend.throughput_rps),
        server_mean_ms: { send: meanServerMs(beforeConcurrent, afterConcurrent, SEND_ROUTE), get: meanServerMs(beforeConcurrent, afterConcurrent, GET_ROUTE) },
      },
    };

    const dir = path.join(HERE, "results");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${args.name}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

    print();
    print(`${"".padEnd(22)}${"p50".padStart(8)}${"p95".padStart(8)}${"p99".padStart(8)}${"mean".padStart(8)}${"req/s".padStart(10)}${"errors".padStart(7)}`);
    print(row("sequential send", result.sequential.send));
    print(row("sequential GET /me", result.sequential.get));
    print(row(`concurrent send (${pairs.length})`, result.concurrent.send));
    print(row(`concurrent GET (${pairs.length})`, result.concurrent.get));
    print();
    print(`send/GET p50 ratio: sequential ${result.sequential.ratio_p50}, concurrent ${result.concurrent.ratio_p50}`);
    print(`server-side mean ms (send / GET): sequential ${result.sequential.server_mean_ms.send} / ${result.sequential.server_mean_ms.get}, concurrent ${result.concurrent.server_mean_ms.send} / ${result.concurrent.server_mean_ms.get}`);
    print(`sequential send p50, first tenth -> last tenth: ${result.sequential.send_p50_first_tenth_ms} -> ${result.sequential.send_p50_last_tenth_ms} ms`);
    print(`written to ${path.relative(process.cwd(), file)}`);
  } finally {
    await fixture.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
