import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { expect } from "vitest";

/** docs/screenshots/ at the repository root: the README shows these. */
const SCREENSHOTS = fileURLToPath(new URL("../../../../docs/screenshots/", import.meta.url));

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), animations: "disabled" });
}

/** Signs a new user up through the form and waits for the conversation list. */
export async function signUp(page: Page, baseUrl: string, user: { username: string; name: string; shot?: string }): Promise<void> {
  await page.goto(`${baseUrl}/signup`);
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByLabel("Display name").fill(user.name);
  if (user.shot !== undefined) await screenshot(page, user.shot);
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByRole("heading", { name: "Conversations" }).waitFor();
  await connected(page);
}

/** Waits until the page's realtime client is connected and returns the edge it is connected to. */
export async function connected(page: Page): Promise<string> {
  const status = page.getByTestId("status-line");
  await expect.poll(() => status.getAttribute("data-state"), { timeout: 20_000 }).toBe("open");
  return (await status.getAttribute("data-node")) ?? "";
}

/** The seqs of the messages shown, in order (for "nothing lost, nothing doubled"). */
export async function shownSeqs(page: Page): Promise<number[]> {
  return page.locator("[data-testid=message]").evaluateAll((items) => items.map((item) => Number((item as HTMLElement).dataset.seq)));
}

export async function shownTexts(page: Page): Promise<string[]> {
  return page.locator("[data-testid=message] .body").allTextContents();
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}
