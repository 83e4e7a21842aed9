import type { Output } from "../output";
import { SmtpCatcher } from "../smtp-catcher";
import { nothingToClose, type ResolvedService } from "./service";

export interface SmtpOptions {
  /** SMTP_URL from the environment: used as is. */
  readonly url: string | undefined;
  readonly catcherPort: number;
  readonly catcherHttpPort: number;
  /** Set when a catcher port was given explicitly: then a taken port is an error, not a reason to pick another. */
  readonly strictPorts: boolean;
  readonly output: Output;
}

export type ResolvedSmtp = ResolvedService & { readonly inboxUrl: string | undefined };

/** SMTP_URL when set; else an in-process catcher whose inbox is served over HTTP. */
export async function resolveSmtp(options: SmtpOptions): Promise<ResolvedSmtp> {
  if (options.url !== undefined) return { url: options.url, source: "SMTP_URL", inboxUrl: undefined, close: nothingToClose };
  const catcher = new SmtpCatcher({
    smtpPort: options.catcherPort,
    httpPort: options.catcherHttpPort,
    strictPorts: options.strictPorts,
    onError: (error) => options.output.line("smtp", `catcher: ${error.message}`, "stderr"),
  });
  const { smtpUrl, httpUrl } = await catcher.start();
  return { url: smtpUrl, source: "in-process catcher", inboxUrl: httpUrl, close: () => catcher.close() };
}
