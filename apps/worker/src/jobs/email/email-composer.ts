/** What one notification e-mail says: a summary of the messages it covers. */
export interface NotificationSummary {
  readonly recipientName: string;
  readonly conversation: { readonly id: string; readonly type: "direct" | "group" | "support"; readonly title: string | null };
  /** Distinct sender names, most recent first. */
  readonly senders: readonly string[];
  /** How many unread messages the e-mail covers. */
  readonly count: number;
  /** The last few messages, oldest first. */
  readonly previews: readonly MessagePreview[];
}

export interface MessagePreview {
  readonly sender: string;
  readonly type: "text" | "image" | "file" | "system";
  readonly content: string;
  readonly attachments: number;
  readonly createdAt: Date;
}

export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** `${PUBLIC_APP_URL}/conversations/<id>`. */
  readonly link: string;
  /** Where the recipient turns these e-mails off. */
  readonly settingsLink: string;
}

/** NOTIFY_CONTENT: everything (senders, previews), senders and counts only, or only that there is something new. */
export type NotifyContent = "full" | "sender" | "none";

export const PREVIEW_COUNT = 3;
const PREVIEW_CHARS = 200;
const MAX_SUBJECT_CHARS = 150;

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/** One line of user text: no control characters (a newline in a subject would start a header), bounded. */
function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const flat = text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? `1 ${one}` : `${count} ${many}`;
}

function senderList(senders: readonly string[]): string {
  const names = senders.map((name) => oneLine(name, 60));
  if (names.length <= 1) return names[0] ?? "someone";
  if (names.length <= 3) return `${names.slice(0, -1).join(", ")} and ${names.at(-1) ?? ""}`;
  return `${names.slice(0, 2).join(", ")} and ${names.length - 2} others`;
}

function previewText(preview: MessagePreview): string {
  const content = oneLine(preview.content, PREVIEW_CHARS);
  const files = preview.attachments > 0 ? `[${plural(preview.attachments, "attachment", "attachments")}]` : "";
  return [content, files].filter((part) => part !== "").join(" ") || `[${preview.type}]`;
}

/**
 * Builds the text and HTML parts of an offline notification. User content (names, titles, message text)
 * only ever reaches the HTML part through {@link escapeHtml}.
 */
export class EmailComposer {
  private readonly base: string;

  constructor(
    publicAppUrl: string,
    private readonly content: NotifyContent = "full",
  ) {
    this.base = publicAppUrl.replace(/\/+$/, "");
  }

  compose(summary: NotificationSummary): ComposedMail {
    const link = `${this.base}/conversations/${encodeURIComponent(summary.conversation.id)}`;
    const settingsLink = `${this.base}/settings/notifications`;
    const who = senderList(summary.senders);
    const what = plural(summary.count, "new message", "new messages");
    const where = summary.conversation.title === null ? "" : ` in “${oneLine(summary.conversation.title, 80)}”`;
    // `none` says only that something is waiting: no names, counts, titles or text leave the deployment.
    const subject = this.content === "none" ? "You have new messages" : oneLine(`${what} from ${who}${where}`, MAX_SUBJECT_CHARS);
    const intro =
      this.content === "none"
        ? "Hi, you have new messages while you were away."
        : `Hi ${oneLine(summary.recipientName, 60)}, you have ${what} from ${who}${where} while you were away.`;
    const shown = this.content === "full" ? summary.previews : [];
    const previews = shown.map((preview) => ({ sender: oneLine(preview.sender, 60), text: previewText(preview), at: preview.createdAt.toISOString() }));
    const more = this.content === "full" && summary.count > previews.length ? `…and ${plural(summary.count - previews.length, "earlier message", "earlier messages")}.` : "";
    const optOut = "You receive these e-mails because you were offline when the messages arrived. To stop them, turn off e-mail notifications in your settings:";

    const text = [
      intro,
      "",
      ...previews.map((p) => `${p.sender}: ${p.text}`),
      ...(more === "" ? [] : [more]),
      "",
      `Open the conversation: ${link}`,
      "",
      "--",
      optOut,
      settingsLink,
      "",
    ].join("\n");

    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family:system-ui,sans-serif;font-size:15px;line-height:1.4;color:#222">
<p>${escapeHtml(intro)}</p>
<ul style="list-style:none;padding:0">
${previews.map((p) => `<li style="margin:.5em 0"><strong>${escapeHtml(p.sender)}</strong>: <span>${escapeHtml(p.text)}</span></li>`).join("\n")}
</ul>
${more === "" ? "" : `<p>${escapeHtml(more)}</p>\n`}<p><a href="${escapeHtml(link)}">Open the conversation</a></p>
<hr>
<p style="font-size:12px;color:#666">${escapeHtml(optOut)} <a href="${escapeHtml(settingsLink)}">notification settings</a>.</p>
</body></html>
`;
    return { subject, text, html, link, settingsLink };
  }
}
