import { useState } from "preact/hooks";
import { describeError } from "../errors";
import { formText } from "../form-data";
import type { Session } from "../session";

/** Log in or sign up; once signed in, the app moves on to where the visitor was going (see App). */
export function AuthScreen({ session, mode }: { session: Session; mode: "login" | "signup" }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => formText(form, name).trim();
    setBusy(true);
    setError(undefined);
    try {
      if (mode === "login") await session.login(text("username"), formText(form, "password"));
      else {
        const email = text("email");
        await session.signUp({
          username: text("username"),
          password: formText(form, "password"),
          display_name: text("display_name") || text("username"),
          role: text("role") || "user",
          ...(email === "" ? {} : { email }),
        });
      }
    } catch (caught) {
      setError(describeError(caught));
    } finally {
      setBusy(false);
    }
  };

  const other = mode === "login" ? { href: "/signup", text: "Create an account" } : { href: "/login", text: "I have an account" };
  return (
    <section class="auth card" aria-labelledby="auth-title">
      <h1 id="auth-title">{mode === "login" ? "Log in to Parley" : "Sign up for Parley"}</h1>
      <form onSubmit={submit} class="stack">
        <label>
          Username
          <input name="username" autoComplete="username" required minLength={3} maxLength={32} pattern="[a-zA-Z0-9_.\-]+" />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === "login" ? "current-password" : "new-password"} required minLength={8} />
        </label>
        {mode === "signup" && (
          <>
            <label>
              Display name
              <input name="display_name" autoComplete="name" maxLength={100} />
            </label>
            <label>
              E-mail <span class="hint">(optional, for notifications)</span>
              <input name="email" type="email" autoComplete="email" />
            </label>
            <label>
              Role <span class="hint">(as the server's policy allows)</span>
              <input name="role" list="roles" value="user" />
              <datalist id="roles">
                {["user", "member", "student", "parent", "teacher", "client", "patient"].map((role) => (
                  <option key={role} value={role} />
                ))}
              </datalist>
            </label>
          </>
        )}
        {error !== undefined && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {mode === "login" ? "Log in" : "Sign up"}
        </button>
      </form>
      <p>
        <a href={other.href + location.search}>{other.text}</a>
      </p>
    </section>
  );
}
