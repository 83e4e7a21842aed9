import type { RestResponse } from "@parley/sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../errors";
import { navigate } from "../router";
import type { Session } from "../session";

type User = RestResponse<"searchUsers">["items"][number];

/** Finds people the policy lets the caller contact (the server filters) and opens the direct conversation. */
export function NewConversation({ session }: { session: Session }) {
  const [q, setQ] = useState("");
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      session.rest.api.searchUsers({ query: { q, limit: 20 } }).then(
        (page) => {
          if (!current) return;
          setUsers(page.items);
          setError(undefined);
        },
        (caught: unknown) => current && setError(describeError(caught)),
      );
    }, 200);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [session, q]);

  const open = async (user: User) => {
    try {
      const conversation = await session.rest.api.createConversation({ body: { type: "direct", participant_ids: [user.id] } });
      navigate(`/conversations/${conversation.id}`);
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New conversation</h1>
      <label>
        Find people
        <input type="search" value={q} onInput={(event) => setQ(event.currentTarget.value)} placeholder="Name or username" autoFocus />
      </label>
      <p class="hint">Only people you may contact under this server’s policy are listed.</p>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ul class="list" aria-label="People">
        {users.map((user) => (
          <li key={user.id} class="list-item">
            <span class="list-main">
              <span class="list-title">{user.display_name}</span>
              <span class="list-preview">
                @{user.username} · {user.role}
              </span>
            </span>
            <button type="button" onClick={() => void open(user)} aria-label={`Message ${user.display_name}`}>
              Message
            </button>
          </li>
        ))}
      </ul>
      {users.length === 0 && error === undefined && <p class="empty">Nobody found.</p>}
    </section>
  );
}
