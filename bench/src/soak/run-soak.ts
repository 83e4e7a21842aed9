import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createOutput, freeClusterPorts, startCluster, type Cluster } from "@parley/launcher";
import { RestClient, type Message } from "@parley/sdk";
import { createTestDatabase, waitFor, type TestDatabase } from "@parley/testing";
import { Redis } from "ioredis";
import { startBenchRedis } from "../fanout/bench-redis";
import { renderSoakChart } from "./chart";
import { Population } from "./population";
import { takeSample, type Sample } from "./sampler";
import type { SoakSettings } from "./settings";
import { judge, soakSection, withSection, type SoakVerdict } from "./verdict";

export interface SoakPaths {
  readonly rootDir: string;
  /** docs/RELIABILITY.md */
  readonly doc: string;
  /** The chart, and how the doc links it. */
  readonly chart: string;
  readonly chartLink: string;
  /** The raw samples and verdict (JSON). */
  readonly results: string;
}

const say = (text: string) => process.stdout.write(`soak | ${text}\n`);

async function history(apiUrl: string, token: string, conversationId: string): Promise<Message[]> {
  const rest = new RestClient({ baseUrl: apiUrl, token: () => token });
  const items: Message[] = [];
  for (let afterSeq = 0; ; ) {
    const page = await rest.api.listMessages({ params: { id: conversationId }, query: { after_seq: afterSeq, limit: 200 } });
    items.push(...page.items);
    if (page.next_cursor === null) return items;
    afterSeq = Number(page.next_cursor);
  }
}

/** Counts what the history holds against what was acknowledged and what every member's clients released. */
async function checkDelivery(population: Population, apiUrl: string): Promise<{ ackedMissing: number; storedTwice: number; lost: number }> {
  const stored = new Set<string>();
  let storedTwice = 0;
  let lost = 0;
  for (const conversationId of population.conversationIds) {
    const messages = (await history(apiUrl, population.memberToken(conversationId), conversationId)).filter((m) => m.content?.startsWith("soak ") === true);
    const contents = new Set(messages.map((m) => m.content));
    storedTwice += messages.length - contents.size;
    for (const message of messages) stored.add(message.id);
    for (const member of population.membersOf(conversationId)) lost += messages.filter((m) => !member.received.has(m.seq)).length;
  }
  const ackedMissing = [...population.acked.keys()].filter((id) => !stored.has(id)).length;
  return { ackedMissing, storedTwice, lost };
}

export async function runSoak(settings: SoakSettings, paths: SoakPaths): Promise<SoakVerdict> {
  const cleanups: (() => unknown)[] = [];
  try {
    // A redis-server of the soak's own, so INFO memory measures Parley alone.
    const redis = await startBenchRedis();
    cleanups.push(() => redis.close());
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "parley-soak-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const given = new Set(["DATABASE_URL", "REDIS_URL", "SMTP_URL", "JWT_SECRET", "INTERNAL_SECRET", "PORT", "NODE_ID", "REDIS_KEY_PREFIX"]);
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !given.has(key) && !key.startsWith("PARLEY_") && !key.startsWith("SOAK_")));
    const log = createOutput({ stdout: process.stdout, stderr: process.stderr, color: false, pretty: false });
    const cluster: Cluster = await startCluster({
      env: {
        ...inherited,
        ...(await freeClusterPorts(settings.SOAK_EDGES)),
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        PARLEY_DATA_DIR: dataDir,
        PARLEY_APPS: "api,edge,worker",
        PARLEY_WEB: "false",
        PARLEY_POLICY: "open",
        LOG_LEVEL: "warn",
        MESSAGE_RATE_LIMIT: "1000000",
        REGISTER_RATE_LIMIT: "1000000",
      },
      rootDir: paths.rootDir,
      log,
    });
    cleanups.push(() => cluster.stop());
    await cluster.ready;
    const apiUrl = cluster.urls.api;
    if (apiUrl === undefined) throw new Error("the cluster has no API");

    say(`registering ${settings.SOAK_USERS} users and their conversations`);
    const population = await Population.create({
      apiUrl,
      edgeUrls: cluster.urls.edges,
      users: settings.SOAK_USERS,
      groups: settings.SOAK_GROUPS,
      groupSize: settings.SOAK_GROUP_SIZE,
    });
    cleanups.push(() => population.close());
    await population.allOpen();

    const metrics = new Redis(redis.url, { maxRetriesPerRequest: 2 });
    cleanups.push(() => metrics.disconnect());
    const samples: Sample[] = [];
    const started = Date.now();
    const elapsed = () => (Date.now() - started) / 1000;
    const timers = [setInterval(() => population.sendOne(), 1000 / settings.SOAK_RATE)];
    if (settings.SOAK_CHURN_PER_MINUTE > 0) timers.push(setInterval(() => population.churnOne(), 60_000 / settings.SOAK_CHURN_PER_MINUTE));
    say(`load: ${settings.SOAK_RATE} messages/s, ${settings.SOAK_CHURN_PER_MINUTE} reconnects/min for ${settings.SOAK_MINUTES} min`);
    const endAt = started + settings.SOAK_MINUTES * 60_000;
    while (Date.now() < endAt) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(settings.SOAK_SAMPLE_SECONDS * 1000, Math.max(0, endAt - Date.now()))));
      const sample = await takeSample(elapsed(), cluster.apps, metrics, { outboxBacklog: population.outboxBacklog, delivered: population.tally.delivered });
      samples.push(sample);
      const rss = Object.entries(sample.rss).sort(([a], [b]) => a.localeCompare(b)).map(([node, bytes]) => `${node} ${Math.round(bytes / 1048576)}`).join(" ");
      say(`t=${Math.round(sample.t)}s rss MiB: ${rss}; redis ${Math.round(sample.redisUsedMemory / 1048576)} MiB; backlog api ${sample.apiOutboxBacklog} sdk ${sample.clientOutboxBacklog}; ${JSON.stringify(population.tally)}`);
    }
    for (const timer of timers) clearInterval(timer);
    const minutes = elapsed() / 60;

    say("load stopped; waiting for the outboxes to drain and every member to catch up");
    await waitFor(() => population.outboxBacklog === 0, { timeout: 120_000, message: "the clients' outboxes did not drain" }).catch((error: unknown) => say(String(error)));
    let delivery = await checkDelivery(population, apiUrl);
    const settleBy = Date.now() + 60_000;
    while (delivery.lost > 0 && Date.now() < settleBy) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      delivery = await checkDelivery(population, apiUrl);
    }
    const restarts = cluster.apps.reduce((sum, app) => sum + app.restarts, 0);
    const verdict = judge(samples, settings, { ...population.tally, ...delivery, restarts });

    const startedAt = new Date(started).toISOString().replace(/\.\d+Z$/, "Z");
    await writeFile(paths.results, `${JSON.stringify({ startedAt, minutes, settings, verdict, samples }, null, 2)}\n`);
    if (settings.SOAK_WRITE_DOCS) {
      await renderSoakChart(samples, settings.warmupMinutes * 60, paths.chart);
      const document = await readFile(paths.doc, "utf8").catch(() => "# Reliability\n");
      await writeFile(paths.doc, withSection(document, soakSection(verdict, settings, { startedAt, minutes, samples: samples.length, chart: paths.chartLink })));
      say(`wrote ${path.relative(paths.rootDir, paths.doc)} (## Soak) and ${path.relative(paths.rootDir, paths.chart)}`);
    }
    return verdict;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        say(`cleanup: ${String(error)}`);
      }
    }
  }
}
