import { describeError } from "./errors";

/** Where a paged list keeps what it shows: the items so far, the cursor to the next page, and the last error. */
export interface PagedListState<T> {
  readonly setItems: (update: (current: T[] | undefined) => T[]) => void;
  readonly setCursor: (cursor: string | null) => void;
  readonly setError: (message: string) => void;
}

/** The "more" action of a paged list: fetches the page after `cursor` and appends it; nothing after the last page. */
export async function appendNextPage<T>(cursor: string | null, fetchPage: (cursor: string) => Promise<{ items: T[]; next_cursor: string | null }>, state: PagedListState<T>): Promise<void> {
  if (cursor === null) return;
  try {
    const page = await fetchPage(cursor);
    state.setItems((current) => [...(current ?? []), ...page.items]);
    state.setCursor(page.next_cursor);
  } catch (caught) {
    state.setError(describeError(caught));
  }
}
