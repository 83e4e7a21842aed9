/** What the app keeps across reloads in the browser: drafts (per user and conversation) and scroll anchors. */
const DRAFT = "parley.draft";
const SCROLL = "parley.scroll";

function safely<T>(action: () => T, fallback: T): T {
  try {
    return action();
  } catch {
    return fallback; // storage refused (quota, privacy mode): the app works without it
  }
}

export function loadDraft(userId: string, conversationId: string): string {
  return safely(() => localStorage.getItem(`${DRAFT}:${userId}:${conversationId}`) ?? "", "");
}

export function saveDraft(userId: string, conversationId: string, text: string): void {
  safely(() => {
    const key = `${DRAFT}:${userId}:${conversationId}`;
    if (text === "") localStorage.removeItem(key);
    else localStorage.setItem(key, text);
  }, undefined);
}

/** The message at the top of the viewport and how far above the top it starts, so a reload shows the same place. */
export interface ScrollAnchor {
  readonly seq: number;
  readonly offset: number;
  /** True when the view was scrolled to the newest message: follow new ones after the reload too. */
  readonly atBottom: boolean;
}

export function loadScroll(conversationId: string): ScrollAnchor | undefined {
  return safely(() => {
    const text = sessionStorage.getItem(`${SCROLL}:${conversationId}`);
    if (text === null) return undefined;
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null) return undefined;
    const { seq, offset, atBottom } = value as Record<string, unknown>;
    if (typeof seq !== "number" || typeof offset !== "number" || typeof atBottom !== "boolean") return undefined;
    return { seq, offset, atBottom };
  }, undefined);
}

export function saveScroll(conversationId: string, anchor: ScrollAnchor): void {
  safely(() => sessionStorage.setItem(`${SCROLL}:${conversationId}`, JSON.stringify(anchor)), undefined);
}
