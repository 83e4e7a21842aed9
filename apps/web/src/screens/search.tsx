import type { RestResponse } from "@parley/sdk";
import { useEffect, useState } from "preact/hooks";
import { MoreButton } from "../components/buttons";
import { describeError } from "../errors";
import { appendNextPage } from "../paging";
import { navigate } from "../router";
import type { Session } from "../session";

type Hit = RestResponse<"searchMessages">["items"][number];

/** Full-text search over the caller's conversations; `q` lives in the URL so results survive a reload. */
export function SearchScreen({ session, q }: { session: Session; q: string }) {
  const [hits, setHits] = useState<Hit[] | undefined>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (q.trim() === "") {
      setHits(undefined);
      return;
    }
    let current = true;
    session.rest.api.searchMessages({ query: { q, limit: 50 } }).then(
      (page) => {
        if (!current) return;
        setHits(page.items);
        setCursor(page.next_cursor);
        setError(undefined);
      },
      (caught: unknown) => current && setError(describeError(caught)),
    );
    return () => {
      current = false;
    };
  }, [session, q]);

  const more = () => appendNextPage(cursor, (after) => session.rest.api.searchMessages({ query: { q, limit: 50, cursor: after } }), { setItems: setHits, setCursor, setError });

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    const value = new FormData(event.currentTarget as HTMLFormElement).get("q");
    navigate(`/search?q=${encodeURIComponent(typeof value === "string" ? value : "")}`, { replace: true });
  };

  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">Search messages</h1>
      <form onSubmit={submit} class="row" role="search">
        <label class="grow">
          Words to find <span class="hint">("exact phrase", -word, or)</span>
          <input type="search" name="q" defaultValue={q} autoFocus />
        </label>
        <button type="submit">Search</button>
      </form>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {hits !== undefined && (
        <>
          <p aria-live="polite">{hits.length === 0 ? "No messages match." : `${hits.length}${cursor === null ? "" : "+"} message${hits.length === 1 ? "" : "s"}`}</p>
          <ul class="list" aria-label="Results">
            {hits.map((hit) => (
              <li key={hit.message.id} class="list-item">
                <a class="list-link" href={`/conversations/${hit.message.conversation_id}`}>
                  <span class="list-main">
                    <span class="list-preview">{new Date(hit.message.created_at).toLocaleString()}</span>
                    <span class="list-title">
                      <Snippet html={hit.snippet} />
                    </span>
                  </span>
                </a>
              </li>
            ))}
          </ul>
          <MoreButton cursor={cursor} label="More results" onMore={more} />
        </>
      )}
    </section>
  );
}

/** The server's snippet is escaped text with <mark> around matches: rebuild it as text nodes, never as HTML. */
function Snippet({ html }: { html: string }) {
  // A textarea's content is parsed as text with character references: entities decode, tags stay text.
  const decode = (text: string) => {
    const area = document.createElement("textarea");
    area.innerHTML = text;
    return area.value;
  };
  const parts = html.split(/<mark>|<\/mark>/);
  return <>{parts.map((part, index) => (index % 2 === 1 ? <mark key={index}>{decode(part)}</mark> : decode(part)))}</>;
}
