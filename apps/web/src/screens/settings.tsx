import { useState } from "preact/hooks";
import { describeError } from "../errors";
import { formText } from "../form-data";
import type { Me, Session } from "../session";

/** Display name, e-mail and notifications; `/settings/notifications` (the opt-out link in every e-mail) focuses the last. */
export function SettingsScreen({ session, me, section }: { session: Session; me: Me; section: "profile" | "notifications" }) {
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>();

  const save = async (body: { display_name?: string; email?: string | null; email_notifications?: boolean }) => {
    setStatus(undefined);
    try {
      session.setUser(await session.rest.api.updateMe({ body }));
      setStatus({ ok: true, text: "Saved." });
    } catch (caught) {
      setStatus({ ok: false, text: describeError(caught) });
    }
  };

  const submitProfile = (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const name = formText(form, "display_name").trim();
    const email = formText(form, "email").trim();
    void save({ display_name: name, email: email === "" ? null : email });
  };

  return (
    <section aria-labelledby="settings-title" class="stack">
      <h1 id="settings-title">Settings</h1>
      {status !== undefined && (
        <p role={status.ok ? "status" : "alert"} class={status.ok ? "ok" : "error"}>
          {status.text}
        </p>
      )}
      <form onSubmit={submitProfile} class="card stack" aria-labelledby="profile-title">
        <h2 id="profile-title">Profile</h2>
        <p class="hint">
          Signed in as <strong>@{me.username}</strong> ({me.role})
        </p>
        <label>
          Display name
          <input name="display_name" defaultValue={me.display_name} required maxLength={100} autoComplete="name" />
        </label>
        <label>
          E-mail
          <input name="email" type="email" defaultValue={me.email ?? ""} autoComplete="email" />
        </label>
        <button type="submit">Save profile</button>
      </form>
      <form class="card stack" aria-labelledby="notifications-title" onSubmit={(event) => event.preventDefault()}>
        <h2 id="notifications-title">Notifications</h2>
        <label class="check">
          <input
            type="checkbox"
            name="email_notifications"
            checked={me.email_notifications}
            autoFocus={section === "notifications"}
            onChange={(event) => void save({ email_notifications: event.currentTarget.checked })}
          />
          E-mail me about messages I missed while offline
        </label>
        {me.email === null && <p class="hint">Add an e-mail address above to receive them.</p>}
      </form>
    </section>
  );
}
