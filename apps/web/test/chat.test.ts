import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./support/browser";
import { connected, screenshot, send, shownSeqs, shownTexts, signUp } from "./support/pages";
import { startWebCluster, type WebCluster } from "./support/web-cluster";

let cluster: WebCluster;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** Ada's page is served with edge-1 first, Grace's with edge-2 first: two profiles on two edges. */
let ada: Page;
let grace: Page;
let conversationUrl: string;

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, locale: "en-GB", timezoneId: "UTC" });
  contexts.push(context);
  const page = await context.newPage();
  // PARLEY_TEST_LOGS=1 shows what the pages log, beside the servers' logs.
  if (process.env.PARLEY_TEST_LOGS) page.on("console", (message) => process.stderr.write(`[page ${contexts.length}] ${message.type()}: ${message.text()}\n`));
  return page;
}

beforeAll(async () => {
  [cluster, browser] = await Promise.all([startWebCluster(), launchBrowser()]);
  [ada, grace] = await Promise.all([newPage(), newPage()]);
});

afterAll(async () => {
  await Promise.allSettled(contexts.map((context) => context.close()));
  await browser.close();
  await cluster.close();
});

const web = (n: number) => cluster.web[n]?.url ?? "";

describe("two people chatting in two browser profiles", () => {
  it("sign up, find each other under the policy and chat through two different edges with typing and ticks", async () => {
    await ada.goto(`${web(0)}/login`);
    await ada.getByRole("heading", { name: "Log in to Parley" }).waitFor();
    await screenshot(ada, "login");
    await signUp(ada, web(0), { username: "ada", name: "Ada Lovelace", shot: "signup" });
    await signUp(grace, web(1), { username: "grace", name: "Grace Hopper" });
    const [adaEdge, graceEdge] = await Promise.all([connected(ada), connected(grace)]);
    expect(adaEdge).not.toBe("");
    expect(graceEdge).not.toBe(adaEdge);

    // Ada finds Grace and opens the direct conversation.
    await ada.getByRole("link", { name: "New", exact: true }).click();
    await ada.getByLabel("Find people").fill("grace");
    await ada.getByRole("button", { name: "Message Grace Hopper" }).waitFor();
    await screenshot(ada, "new-conversation");
    await ada.getByRole("button", { name: "Message Grace Hopper" }).click();
    await ada.getByRole("heading", { name: "Grace Hopper" }).waitFor();
    conversationUrl = new URL(ada.url()).pathname;
    expect(conversationUrl).toMatch(/^\/conversations\/[0-9a-f-]{36}$/);

    await send(ada, "Hello Grace! Shall we test the delivery guarantees?");
    await ada.locator("[data-testid=message]").first().waitFor();

    // Grace, on her conversation list, gets it live with an unread badge; her client acknowledges delivery.
    const row = grace.locator("li.list-item", { hasText: "Ada Lovelace" });
    await row.getByTestId("unread").filter({ hasText: "1" }).waitFor();
    await expect.poll(() => ada.getByTestId("receipt").first().getAttribute("data-receipt"), { timeout: 15_000 }).toBe("delivered");
    await screenshot(grace, "conversation-list");

    // Grace opens it: Ada sees the read ticks.
    await row.getByRole("link").click();
    await grace.getByText("Hello Grace!").waitFor();
    await expect.poll(() => ada.getByTestId("receipt").first().getAttribute("data-receipt"), { timeout: 15_000 }).toBe("read");

    // Grace types: Ada sees it; Grace replies.
    await grace.getByLabel("Message", { exact: true }).pressSequentially("Yes", { delay: 20 });
    await ada.getByTestId("typing").filter({ hasText: "Grace Hopper is typing" }).waitFor();
    await grace.getByLabel("Message", { exact: true }).press("Enter");
    await ada.getByText("Yes", { exact: true }).waitFor();
    await expect.poll(() => ada.getByTestId("typing").textContent()).toBe("");

    // Reply, edit and delete from Ada's side show on Grace's.
    await ada.locator("[data-testid=message]", { hasText: "Yes" }).getByRole("button", { name: /^Reply/ }).click();
    await send(ada, "Great — starting with a reload.");
    await grace.locator("[data-testid=message] .quote", { hasText: "Yes" }).waitFor();
    await ada.locator("[data-testid=message]", { hasText: "starting with a reload" }).getByRole("button", { name: "Edit" }).click();
    await send(ada, "Great — starting with a page reload.");
    await grace.getByText("Great — starting with a page reload.").waitFor();
    await send(ada, "this one will be deleted");
    await ada.locator("[data-testid=message]", { hasText: "this one will be deleted" }).getByRole("button", { name: "Delete" }).click();
    await grace.locator("[data-testid=message].deleted").waitFor();
    await expect.poll(() => ada.getByTestId("receipt").last().getAttribute("data-receipt"), { timeout: 15_000 }).toBe("read");
    await screenshot(ada, "conversation");
  });

  it("a reload mid-conversation keeps the draft and the scroll position, and shows every message once", async () => {
    // More history than one page (50): Grace's integration posts 60 more messages over REST (quicker than typing).
    await grace.evaluate(
      async ({ api, path }) => {
        const { token } = JSON.parse(localStorage.getItem("parley.session") ?? "{}") as { token: string };
        for (let i = 1; i <= 60; i++) {
          const response = await fetch(`${api}/v1${path}/messages`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ client_msg_id: `numbered-${i}`, content: `Numbered message ${i}` }),
          });
          if (!response.ok) throw new Error(`send ${i}: HTTP ${response.status}`);
        }
      },
      { api: cluster.api.url, path: conversationUrl },
    );
    await ada.getByText("Numbered message 60", { exact: true }).waitFor();
    const before = await shownSeqs(ada);

    await ada.getByLabel("Message", { exact: true }).fill("an unsent draft that must survive");
    const list = ada.getByTestId("messages");
    await list.evaluate((element) => (element.scrollTop = element.scrollHeight / 10));
    await list.dispatchEvent("scroll");
    const anchorBefore = await firstVisibleSeq(ada);

    await ada.reload();
    await ada.getByText("Numbered message 60", { exact: true }).waitFor({ state: "attached" });
    await connected(ada);
    expect(await ada.getByLabel("Message", { exact: true }).inputValue()).toBe("an unsent draft that must survive");
    await expect.poll(() => firstVisibleSeq(ada)).toBe(anchorBefore);

    // The anchor lay before the newest page: the view paged upward to reach it, and shows each message once.
    const after = await shownSeqs(ada);
    expect(after.length).toBe(new Set(after).size);
    expect(after.length).toBeGreaterThan(50);
    expect(after).toEqual([...after].sort((a, b) => a - b));
    expect(after.at(-1)).toBe(before.at(-1));
    expect(after.slice(-before.length)).toEqual(before.slice(-after.length));

    // Scrolling to the top pages further back until the first message.
    await expect
      .poll(async () => {
        await list.evaluate((element) => (element.scrollTop = 0));
        await list.dispatchEvent("scroll");
        return (await shownSeqs(ada))[0];
      })
      .toBe(1);
    await ada.getByLabel("Message", { exact: true }).fill("");
  });

  it("an edge killed under the page: the page reconnects to another edge and the chat goes on", async () => {
    const edgeOfAda = await connected(ada);
    const index = edgeOfAda === "edge-1" ? 0 : 1;
    // Every state the status line passes through (a reconnect may be too quick to catch by polling).
    await ada.getByTestId("status-line").evaluate((line) => {
      const seen: string[] = [];
      (window as unknown as { parleyStates: string[] }).parleyStates = seen;
      new MutationObserver(() => seen.push((line as HTMLElement).dataset.state ?? "")).observe(line, { attributes: true });
    });
    await cluster.killEdge(index);
    const status = ada.getByTestId("status-line");
    // Open again, on another edge: right after the kill the line may still show the old edge as open (the page has
    // not seen its socket close yet), so that state does not count.
    await expect
      .poll(async () => {
        const [state, node] = [await status.getAttribute("data-state"), await status.getAttribute("data-node")];
        return state === "open" && node !== edgeOfAda ? "open on another edge" : `${state} ${node}`;
      }, { timeout: 20_000 })
      .toBe("open on another edge");
    expect(await ada.evaluate(() => (window as unknown as { parleyStates: string[] }).parleyStates)).toContain("reconnecting");
    await send(ada, "after the edge died");
    await grace.getByText("after the edge died").waitFor();
    await send(grace, "and back to you");
    await ada.getByText("and back to you").waitFor();

    // With every edge down the banner stays until one is back; nothing written meanwhile is lost.
    await cluster.killEdge(1 - index);
    await ada.getByTestId("connection-banner").waitFor({ timeout: 20_000 });
    await send(ada, "written with no edge up");
    await screenshot(ada, "reconnecting");
    await Promise.all([cluster.restartEdge(0), cluster.restartEdge(1)]);
    await Promise.all([connected(ada), connected(grace)]);
    await grace.getByText("written with no edge up").waitFor({ timeout: 30_000 });
    await ada.getByTestId("connection-banner").waitFor({ state: "detached" });
  });

  it("messages sent while the API is down wait in the outbox and are delivered once, when it is back", async () => {
    await cluster.restartApi(async () => {
      await send(ada, "written while the API was down");
      const pending = ada.getByTestId("pending-message").filter({ hasText: "written while the API was down" });
      await pending.waitFor();
      // The outbox is in localStorage: a reload while the API is still down keeps the message waiting.
      await ada.reload();
      await pending.waitFor();
    });
    await grace.getByText("written while the API was down").waitFor({ timeout: 30_000 });
    // The view that could not load while the API was down loads once it is back.
    await ada.getByText("Numbered message 60", { exact: true }).waitFor({ state: "attached", timeout: 30_000 });
    await expect.poll(() => ada.getByTestId("pending-message").count(), { timeout: 30_000 }).toBe(0);
    for (const page of [ada, grace]) {
      const texts = await shownTexts(page);
      expect(texts.filter((text) => text === "written while the API was down")).toHaveLength(1);
      const seqs = await shownSeqs(page);
      expect(seqs.length).toBe(new Set(seqs).size);
    }
  });
});

describe("the other screens", () => {
  it("search, settings (the e-mailed opt-out link), the confirmation link and the operations page", async () => {
    await ada.goto(`${web(0)}/search?q=${encodeURIComponent("numbered")}`);
    await ada.getByText("50+ messages").waitFor();
    expect(await ada.locator("mark").count()).toBe(50);
    await screenshot(ada, "search");
    await ada.getByRole("button", { name: "More results" }).click();
    await ada.getByText("60 messages").waitFor();

    // Archive and unarchive from the list.
    await grace.goto(`${web(1)}/conversations`);
    await grace.locator("li.list-item", { hasText: "Ada" }).getByRole("button", { name: "Mute" }).click();
    await grace.locator("li.list-item", { hasText: "Ada" }).getByText("muted").waitFor();
    await grace.locator("li.list-item", { hasText: "Ada" }).getByRole("button", { name: "Archive" }).click();
    await grace.getByText("No conversations yet.").waitFor();
    await grace.getByRole("link", { name: "Archived" }).click();
    await grace.locator("li.list-item", { hasText: "Ada" }).getByRole("button", { name: "Unarchive" }).click();
    await grace.getByText("Nothing archived.").waitFor();

    // Keyboard only: Tab to the conversation (its focus ring visible), Enter opens it, Enter in the box sends.
    await grace.goto(`${web(1)}/conversations`);
    const link = grace.locator("a.list-link").first();
    await link.waitFor();
    for (let i = 0; i < 20 && !(await link.evaluate((element) => element === document.activeElement)); i++) await grace.keyboard.press("Tab");
    expect(await link.evaluate((element) => getComputedStyle(element).outlineStyle)).toBe("solid");
    await grace.keyboard.press("Enter");
    await grace.getByRole("heading", { name: "Ada Lovelace" }).waitFor();
    await grace.getByLabel("Message", { exact: true }).focus();
    await grace.keyboard.type("sent with the keyboard");
    await grace.keyboard.press("Enter");
    await grace.locator("[data-testid=message]", { hasText: "sent with the keyboard" }).waitFor();

    await ada.goto(`${web(0)}/settings/notifications`);
    const box = ada.getByLabel("E-mail me about messages I missed while offline");
    await box.waitFor();
    expect(await box.evaluate((element) => element === document.activeElement)).toBe(true);
    await ada.getByLabel("Display name").fill("Ada King");
    await ada.getByRole("button", { name: "Save profile" }).click();
    await ada.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await screenshot(ada, "settings");

    // Deep link while signed out: log in, then land on the conversation.
    const fresh = await newPage();
    await fresh.goto(`${web(1)}${conversationUrl}`);
    await fresh.getByRole("heading", { name: "Log in to Parley" }).waitFor();
    await fresh.getByLabel("Username").fill("grace");
    await fresh.getByLabel("Password").fill("correct horse battery");
    await fresh.getByRole("button", { name: "Log in" }).click();
    await fresh.getByText("written while the API was down").waitFor();
    expect(new URL(fresh.url()).pathname).toBe(conversationUrl);

    await fresh.goto(`${web(1)}/confirm-email?token=not-a-real-token`);
    await fresh.getByRole("heading", { name: "Confirm your e-mail address" }).waitFor();
    await fresh.getByRole("alert").filter({ hasText: "nothing was changed" }).waitFor();

    // Attachments (sent by an integration over REST) show their metadata.
    await fresh.evaluate(
      async ({ api, path }) => {
        const { token } = JSON.parse(localStorage.getItem("parley.session") ?? "{}") as { token: string };
        await fetch(`${api}/v1${path}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({
            client_msg_id: "attachment-1",
            content: "The report",
            attachments: [{ url: "https://files.example.com/report.pdf", name: "report.pdf", mime_type: "application/pdf", size: 245_760 }],
          }),
        });
      },
      { api: cluster.api.url, path: conversationUrl },
    );
    await ada.goto(`${web(0)}${conversationUrl}`);
    await ada.getByRole("link", { name: "report.pdf" }).waitFor();
    await ada.getByText("(application/pdf, 240.0 KB)").waitFor();

    // An administrator (token from the identity provider) watches the cluster live.
    const admin = await newPage();
    const token = await cluster.adminToken("Olga Ops");
    await admin.goto(`${web(0)}/login`);
    await admin.evaluate(
      async ({ api, token }) => {
        const response = await fetch(`${api}/v1/users/me`, { headers: { authorization: `Bearer ${token}` } });
        const user: unknown = await response.json();
        localStorage.setItem("parley.session", JSON.stringify({ token, user }));
      },
      { api: cluster.api.url, token },
    );
    await admin.goto(`${web(0)}/operations`);
    await admin.getByRole("heading", { name: "Operations" }).waitFor();
    await expect.poll(async () => Number(await admin.getByTestId("stat-connections").textContent()), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    await admin.getByRole("row", { name: /edge-1/ }).waitFor();
    await admin.getByRole("row", { name: /edge-2/ }).waitFor();
    await screenshot(admin, "operations");
  });
});

/** The seq of the first message visible at the top of the list. */
async function firstVisibleSeq(page: Page): Promise<number | undefined> {
  return page.getByTestId("messages").evaluate((list) => {
    const top = list.getBoundingClientRect().top;
    for (const item of list.querySelectorAll<HTMLElement>("[data-seq]")) {
      if (item.getBoundingClientRect().bottom > top) return Number(item.dataset.seq);
    }
    return undefined;
  });
}
