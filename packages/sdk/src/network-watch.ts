/** Browser online/offline events, where there are any; returns the detach function. */
export function watchNetwork(online: () => void, offline: () => void): () => void {
  const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void; removeEventListener?: (type: string, listener: () => void) => void };
  if (typeof target.addEventListener !== "function" || typeof target.removeEventListener !== "function") return () => undefined;
  target.addEventListener("online", online);
  target.addEventListener("offline", offline);
  return () => {
    target.removeEventListener?.("online", online);
    target.removeEventListener?.("offline", offline);
  };
}
