import nodemailer, { type SendMailOptions } from "nodemailer";
import { afterEach, describe, expect, it } from "vitest";
import { SmtpCatcher, type CaughtMessage } from "../src/smtp-catcher";

const catchers: SmtpCatcher[] = [];

async function startCatcher(capacity?: number): Promise<SmtpCatcher> {
  const catcher = new SmtpCatcher({ smtpPort: 0, httpPort: 0, strictPorts: true, ...(capacity ? { capacity } : {}) });
  catchers.push(catcher);
  await catcher.start();
  return catcher;
}

/** Sends `mails` to `catcher` over SMTP, one after the other on one connection. */
async function mailTo(catcher: SmtpCatcher, ...mails: SendMailOptions[]): Promise<void> {
  const transport = nodemailer.createTransport(catcher.smtpUrl);
  try {
    for (const mail of mails) await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

/** GETs `url`, insisting on a 200 answer of `contentType`. */
async function fetchOk(url: string, contentType: RegExp): Promise<Response> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(contentType);
  return response;
}

afterEach(async () => {
  await Promise.all(catchers.splice(0).map((catcher) => catcher.close()));
});

/** A mail whose every field tries to put markup on the catcher's page. */
const HOSTILE_MAIL: SendMailOptions = {
  from: '"<b>Mallory</b>" <mallory@example.com>',
  to: "alice@example.com",
  subject: "<script>alert(1)</script>",
  text: "<img src=x onerror=alert(2)>",
  html: '<p onclick="alert(3)">hi</p>',
};

describe("SMTP catcher", () => {
  it("receives a mail over SMTP and serves it on its HTTP API", async () => {
    const catcher = await startCatcher();
    await mailTo(catcher, {
      from: "Parley <no-reply@parley.local>",
      to: "alice@example.com",
      bcc: "audit@example.com",
      subject: "2 new messages from Bob",
      text: "Bob: see you at 5",
      html: "<p>Bob: see you at 5</p>",
      date: new Date("2026-01-02T03:04:05Z"),
      messageId: "<digest-1@parley.local>",
    });

    const list = await fetchOk(`${catcher.httpUrl}/api/messages`, /^application\/json/);
    const messages = (await list.json()) as CaughtMessage[];
    expect(messages).toHaveLength(1);
    const [message] = messages;
    expect(message).toMatchObject({
      from: "Parley <no-reply@parley.local>",
      to: ["alice@example.com", "audit@example.com"],
      subject: "2 new messages from Bob",
      date: "2026-01-02T03:04:05.000Z",
      html: "<p>Bob: see you at 5</p>",
      messageId: "<digest-1@parley.local>",
    });
    expect(message?.text.trim()).toBe("Bob: see you at 5");

    const one = await fetch(`${catcher.httpUrl}/api/messages/${encodeURIComponent(message!.id)}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual(message);
    expect((await fetch(`${catcher.httpUrl}/api/messages/nope`)).status).toBe(404);
  });

  it("escapes everything on its HTML page", async () => {
    const catcher = await startCatcher();
    await mailTo(catcher, HOSTILE_MAIL);

    const page = await fetchOk(`${catcher.httpUrl}/`, /^text\/html/);
    const html = await page.text();
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(html).toContain("&lt;b&gt;Mallory&lt;/b&gt;");
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<b>Mallory");
    // The HTML part is only ever shown inside a sandboxed frame, as an escaped attribute.
    expect(html).toContain('<iframe sandbox title="HTML part" srcdoc="&lt;p onclick=&quot;alert(3)&quot;&gt;hi&lt;/p&gt;">');
  });

  it("keeps only the newest messages and forgets them all on DELETE", async () => {
    const catcher = await startCatcher(2);
    await mailTo(catcher, ...[1, 2, 3].map((n) => ({ from: "a@example.com", to: "b@example.com", subject: `mail ${n}`, text: `body ${n}` })));

    const kept = (await (await fetch(`${catcher.httpUrl}/api/messages`)).json()) as CaughtMessage[];
    expect(kept.map((message) => message.subject)).toEqual(["mail 3", "mail 2"]);

    expect((await fetch(`${catcher.httpUrl}/api/messages`, { method: "DELETE" })).status).toBe(204);
    expect(await (await fetch(`${catcher.httpUrl}/api/messages`)).json()).toEqual([]);
    expect(catcher.messages()).toEqual([]);
  });

  it("uses a free port when the preferred one is taken, unless told to be strict", async () => {
    const first = await startCatcher();
    const smtpPort = Number(new URL(first.smtpUrl).port);
    const httpPort = Number(new URL(first.httpUrl).port);

    const relaxed = new SmtpCatcher({ smtpPort, httpPort });
    catchers.push(relaxed);
    const { smtpUrl, httpUrl } = await relaxed.start();
    expect(Number(new URL(smtpUrl).port)).not.toBe(smtpPort);
    expect(Number(new URL(httpUrl).port)).not.toBe(httpPort);

    const strict = new SmtpCatcher({ smtpPort, httpPort, strictPorts: true });
    catchers.push(strict);
    await expect(strict.start()).rejects.toMatchObject({ code: "EADDRINUSE" });
  });

  it("closes twice without complaint and then refuses connections", async () => {
    const catcher = await startCatcher();
    const url = catcher.httpUrl;
    await catcher.close();
    await catcher.close();
    await expect(fetch(`${url}/api/messages`)).rejects.toThrow();
  });
});
