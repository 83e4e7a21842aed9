import { ParleyRequestError } from "@parley/sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../errors";
import type { Session } from "../session";

type State = { step: "working" } | { step: "done" } | { step: "unsupported" } | { step: "invalid" } | { step: "failed"; text: string };

/** What the API answers for a path it does not serve (a server without address confirmation). */
const NO_SUCH_ENDPOINT = "No such endpoint.";

/** The address confirmation link from the e-mail: `/confirm-email?token=…` → `POST /v1/auth/confirm-email`. */
export function ConfirmEmail({ session, token }: { session: Session; token: string }) {
  const [state, setState] = useState<State>({ step: "working" });

  useEffect(() => {
    if (token === "") {
      setState({ step: "failed", text: "This link has no token; open the link from the e-mail again." });
      return;
    }
    let current = true;
    session.rest.request("post", "/auth/confirm-email", { body: { token } }).then(
      () => current && setState({ step: "done" }),
      (caught: unknown) => {
        if (!current) return;
        // 404 for the route itself: this server does not confirm addresses; any other 404: an unknown or used token.
        if (caught instanceof ParleyRequestError && caught.status === 404) setState({ step: caught.message === NO_SUCH_ENDPOINT ? "unsupported" : "invalid" });
        else setState({ step: "failed", text: describeError(caught) });
      },
    );
    return () => {
      current = false;
    };
  }, [session, token]);

  return (
    <section aria-labelledby="confirm-title" class="card" aria-live="polite">
      <h1 id="confirm-title">Confirm your e-mail address</h1>
      {state.step === "working" && <p aria-busy="true">Confirming…</p>}
      {state.step === "done" && <p class="ok">Your address is confirmed. Notifications will be sent to it.</p>}
      {state.step === "unsupported" && (
        <p role="alert" class="error">
          This server does not confirm e-mail addresses (yet), or the link is unknown: nothing was changed.
        </p>
      )}
      {state.step === "invalid" && (
        <p role="alert" class="error">
          This confirmation link is invalid or has expired; nothing was changed.
        </p>
      )}
      {state.step === "failed" && (
        <p role="alert" class="error">
          {state.text}
        </p>
      )}
      <p>
        <a href="/conversations">Go to your conversations</a>
      </p>
    </section>
  );
}
