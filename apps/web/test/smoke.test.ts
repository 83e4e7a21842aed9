import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launchBrowser } from "./support/browser";
import { startWebCluster, type WebCluster } from "./support/web-cluster";

let cluster: WebCluster;
let browser: Browser;

beforeAll(async () => {
  [cluster, browser] = await Promise.all([startWebCluster(), launchBrowser()]);
});

afterAll(async () => {
  await browser.close();
  await cluster.close();
});

it("loads", async () => {
  const page = await browser.newPage();
  await page.goto(`${cluster.web.url}/conversations/abc`);
  await expect.poll(() => page.textContent("main")).toContain("conversation");
});
