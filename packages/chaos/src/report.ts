import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { RunSize, ScenarioResult } from "./runner";
import { problems } from "./runner";

const HEADING = "## Fault injection";

/** The results as a Markdown table, one row per scenario. */
export function resultTable(results: readonly ScenarioResult[]): string {
  const header = [
    "scenario",
    "fault",
    "acked",
    "delivered",
    "lost",
    "doubled",
    "out of order",
    "unread off",
    "e-mails sent / expected (redelivered)",
    "resyncs",
    "reconnects",
    "drain: peak/s over s",
    "all back after",
    "verdict",
  ];
  const rows = results.map((result) => {
    const { verdict } = result;
    const found = problems(result);
    return [
      `\`${result.scenario.name}\``,
      result.scenario.fault + (result.notes.length > 0 ? ` (${result.notes.join("; ")})` : ""),
      verdict.acked,
      verdict.delivered,
      verdict.lost,
      verdict.duplicated,
      verdict.outOfOrder,
      verdict.unreadMismatches,
      verdict.mail ? `${verdict.mail.sent} / ${verdict.mail.expected} (${verdict.mail.redelivered})` : "–",
      verdict.resyncs,
      verdict.reconnects,
      verdict.drain ? `${verdict.drain.peakPerSecond} over ${verdict.drain.windowSeconds}` : "–",
      `${verdict.secondsUntilBack} s`,
      found.length === 0 ? "pass" : `**fail**: ${found.join(", ")}`,
    ].join(" | ");
  });
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((row) => `| ${row} |`)].join("\n");
}

export interface ReportOptions {
  readonly command: string;
  readonly size: RunSize;
  readonly database: string;
  readonly date: string;
  readonly machine: string;
}

/** The "## Fault injection" section: how it was run, on what, and the table. */
export function faultInjectionSection(results: readonly ScenarioResult[], options: ReportOptions, errors: readonly string[] = []): string {
  const { size } = options;
  return [
    HEADING,
    "",
    `Written by \`${options.command}\` (packages/chaos) on ${options.date}; ${options.machine}.`,
    "",
    `Size of this run: ${size.clients} SDK clients (each in one direct conversation and one group of ${size.groupSize}), ` +
      `${size.rate} messages/s in all, one API node (two in \`api-failover\`) behind a TCP balancer, 3 edges, the worker, ` +
      `the suite's own redis-server and ${options.database}, and the launcher's SMTP catcher. Each scenario starts a fresh ` +
      `set of clients on the healed cluster, sends for a while, breaks the cluster, waits until every client is back, ` +
      `sends some more, then waits until every send is acked and every client has caught up, and compares what each ` +
      `client recorded with the history in PostgreSQL. The edge stall lasts ${size.stallMs / 1000} s.`,
    "",
    "- **lost**: (member, message) pairs the history holds that a connected member never received, plus acked sends missing from the history.",
    "- **doubled**: a message a client released twice, or the history holding one client message twice.",
    "- **unread off**: (client, conversation) pairs whose `GET /v1/unread` count differs from the history after the member's `last_read_seq`.",
    "- **e-mails**: distinct mails (by Message-ID) caught for the offline recipients / sent claims in `email_log`; every message to an offline recipient must be covered by exactly one mail. *Redelivered*: the same mail (same Message-ID) delivered again because the worker died after the SMTP server accepted it and before it recorded that; mail clients fold these, and they are counted apart from doubles.",
    "- **drain**: reconnects per second at the peak, and the seconds between the first and the last, while the edges drained.",
    "- **all back after**: from the fault until the last client that lost its connection was connected again.",
    "",
    resultTable(results),
    "",
    ...(errors.length === 0 ? [] : ["Scenarios that did not finish:", "", ...errors.map((error) => `- ${error}`), ""]),
  ].join("\n");
}

/** Replaces (or appends) the "## Fault injection" section of the file, leaving every other section alone. */
export async function writeSection(file: string, section: string): Promise<void> {
  const current = existsSync(file) ? await readFile(file, "utf8") : "# Reliability\n\nWhat Parley promises under faults, and the figures that show it.\n";
  const start = current.indexOf(`\n${HEADING}\n`);
  if (start === -1) {
    await writeFile(file, `${current.trimEnd()}\n\n${section}`);
    return;
  }
  const next = current.indexOf("\n## ", start + HEADING.length + 1);
  const after = next === -1 ? "" : current.slice(next);
  await writeFile(file, `${current.slice(0, start)}\n${section}${after}`);
}
