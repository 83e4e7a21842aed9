import { ParleyRequestError } from "@parley/sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../errors";
import type { Session } from "../session";

type State = { step: "working" } | { step: "done" } | { step: "unsupported" } | { step: "failed"; text: string };

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
        // A server without address confirmation answers 404 for the whole route.
        if (caught instanceof ParleyRequestError && caught.status === 404) setState({ step: "unsupported" });
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
