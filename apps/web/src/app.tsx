import { useEffect, useMemo } from "preact/hooks";
import { ConnectionBanner } from "./components/connection-banner";
import { Live } from "./live";
import type { RuntimeConfig } from "./runtime-config";
import { navigate, onLinkClick, parseRoute, useLocation, type Route } from "./router";
import { AuthScreen } from "./screens/auth";
import { ConfirmEmail } from "./screens/confirm-email";
import { ConversationList } from "./screens/conversation-list";
import { ConversationView } from "./screens/conversation-view";
import { NewConversation } from "./screens/new-conversation";
import { Operations } from "./screens/operations";
import { SearchScreen } from "./screens/search";
import { SettingsScreen } from "./screens/settings";
import { Session, type Me } from "./session";
import { useStore } from "./store";

/** Routes a visitor may open without being signed in; every other one goes to the login first and comes back. */
const PUBLIC: readonly Route["name"][] = ["login", "signup", "confirm-email"];

export function App({ config }: { config: RuntimeConfig }) {
  const session = useMemo(() => new Session(config.api_url), [config]);
  const me = useStore(session.user);
  const url = useLocation();
  const route = parseRoute(url);

  const needsLogin = me === undefined && !PUBLIC.includes(route.name);
  useEffect(() => {
    if (needsLogin) navigate(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, { replace: true });
    else if (me !== undefined && (route.name === "login" || route.name === "signup")) {
      // Signed in: continue to where the visitor was going (an e-mailed link), only ever within this app.
      const next = url.searchParams.get("next");
      navigate(next?.startsWith("/") === true && !next.startsWith("//") ? next : "/conversations", { replace: true });
    }
  }, [needsLogin, me, route.name, url]);

  useEffect(() => {
    document.title = me === undefined ? "Parley" : `Parley · ${me.display_name}`;
  }, [me]);

  return (
    <div class="shell" onClick={onLinkClick}>
      {me === undefined ? (
        <main class="content" id="main">
          {route.name === "signup" ? (
            <AuthScreen session={session} mode="signup" />
          ) : route.name === "confirm-email" ? (
            <ConfirmEmail session={session} token={route.token} />
          ) : (
            <AuthScreen session={session} mode="login" />
          )}
        </main>
      ) : (
        <SignedIn key={me.id} session={session} me={me} config={config} route={route} />
      )}
    </div>
  );
}

/** Everything behind the login: one realtime client for the signed-in user, closed on logout. */
function SignedIn({ session, me, config, route }: { session: Session; me: Me; config: RuntimeConfig; route: Route }) {
  const userId = me.id;
  // One client per signed-in user: a profile change (a new `me` object) must not reconnect.
  const live = useMemo(() => new Live(session, userId, config.edge_urls), [session, userId, config]);
  useEffect(() => () => live.close(), [live]);
  const state = useStore(live.state);
  const node = useStore(live.node);
  const unread = useStore(live.unreadTotal);

  useEffect(() => {
    // A token the server refuses ends the session: back to the login page.
    return live.onSignedOut(() => session.forget());
  }, [live, session]);

  const current = (names: readonly Route["name"][]) => (names.includes(route.name) ? "page" : undefined);
  const isAdmin = me.role === "admin";
  return (
    <>
      <a class="visually-hidden" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/conversations">
          Parley
        </a>
        <nav aria-label="Main">
          <a href="/conversations" aria-current={current(["conversations", "conversation"])}>
            Conversations{unread > 0 && <span class="badge nav-badge" aria-label={`${unread} unread`}>{unread}</span>}
          </a>
          <a href="/conversations/new" aria-current={current(["new-conversation"])}>
            New
          </a>
          <a href="/search" aria-current={current(["search"])}>
            Search
          </a>
          <a href="/settings" aria-current={current(["settings"])}>
            Settings
          </a>
          {isAdmin && (
            <a href="/operations" aria-current={current(["operations"])}>
              Operations
            </a>
          )}
        </nav>
        <span class="who">{me.display_name}</span>
        <button type="button" class="small" onClick={() => void live.close().then(() => session.logout())}>
          Log out
        </button>
      </header>
      <ConnectionBanner state={state} />
      <main class="content" id="main" tabIndex={-1}>
        <Screen session={session} live={live} me={me} route={route} />
      </main>
      <footer class="status-line" aria-live="off" data-testid="status-line" data-state={state} data-node={node ?? ""}>
        {state === "open" ? `Connected${node === undefined ? "" : ` to ${node}`}` : state}
      </footer>
    </>
  );
}

function Screen({ session, live, me, route }: { session: Session; live: Live; me: Me; route: Route }) {
  switch (route.name) {
    case "conversations":
      return <ConversationList session={session} live={live} me={me} archived={route.archived} />;
    case "conversation":
      return <ConversationView key={route.id} live={live} me={me} conversationId={route.id} />;
    case "new-conversation":
      return <NewConversation session={session} />;
    case "search":
      return <SearchScreen session={session} q={route.q} />;
    case "settings":
      return <SettingsScreen session={session} me={me} section={route.section} />;
    case "confirm-email":
      return <ConfirmEmail session={session} token={route.token} />;
    case "operations":
      return me.role === "admin" ? <Operations session={session} /> : <p>Operations are for administrators.</p>;
    case "login":
    case "signup":
      return null;
    case "not-found":
      return (
        <section>
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href="/conversations">Go to your conversations</a>.
          </p>
        </section>
      );
  }
}
