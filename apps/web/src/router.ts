import { useEffect, useState } from "preact/hooks";

/** Every screen of the app by its path; e-mails link to the conversation, notification and confirmation routes. */
export type Route =
  | { readonly name: "login" }
  | { readonly name: "signup" }
  | { readonly name: "conversations"; readonly archived: boolean }
  | { readonly name: "conversation"; readonly id: string }
  | { readonly name: "new-conversation" }
  | { readonly name: "search"; readonly q: string }
  | { readonly name: "settings"; readonly section: "profile" | "notifications" }
  | { readonly name: "confirm-email"; readonly token: string }
  | { readonly name: "operations" }
  | { readonly name: "not-found"; readonly path: string };

export function parseRoute(url: URL): Route {
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const conversation = /^\/conversations\/([^/]+)$/.exec(path);
  if (conversation?.[1] !== undefined && conversation[1] !== "new") return { name: "conversation", id: decodeURIComponent(conversation[1]) };
  switch (path) {
    case "/":
    case "/conversations":
      return { name: "conversations", archived: url.searchParams.get("archived") === "true" };
    case "/conversations/new":
      return { name: "new-conversation" };
    case "/login":
      return { name: "login" };
    case "/signup":
      return { name: "signup" };
    case "/search":
      return { name: "search", q: url.searchParams.get("q") ?? "" };
    case "/settings":
      return { name: "settings", section: "profile" };
    case "/settings/notifications":
      return { name: "settings", section: "notifications" };
    case "/confirm-email":
      return { name: "confirm-email", token: url.searchParams.get("token") ?? "" };
    case "/operations":
      return { name: "operations" };
    default:
      return { name: "not-found", path };
  }
}

const listeners = new Set<() => void>();

/** Client-side navigation: pushes the path and re-renders, no page load. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace === true) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const listener of listeners) listener();
}

export function useLocation(): URL {
  const [url, setUrl] = useState(() => new URL(location.href));
  useEffect(() => {
    const update = () => setUrl(new URL(location.href));
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return url;
}

/** Links that navigate in-app on a plain click and behave normally with modifier keys. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest("a");
  if (anchor?.target !== "" || anchor.origin !== location.origin) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
