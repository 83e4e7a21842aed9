import { z } from "zod";
import type { KeyValueStorage } from "./storage";

const storedCursor = z.object({
  user_id: z.string(),
  pos: z.string().regex(/^\d+-\d+$/),
  seqs: z.record(z.string(), z.number().int().nonnegative()),
});

/** The client's place in the world, persisted: the user's last stream position and each conversation's last seq. */
export class CursorStore {
  private value: z.infer<typeof storedCursor> | undefined;

  constructor(
    private readonly storage: KeyValueStorage,
    private readonly key: string,
  ) {
    const text = storage.getItem(key);
    if (text === null) return;
    try {
      const parsed = storedCursor.safeParse(JSON.parse(text));
      if (parsed.success) this.value = parsed.data;
    } catch {
      // A damaged entry is as good as none: the client starts from `connected.pos`.
    }
  }

  position(): { readonly userId: string; readonly pos: string } | undefined {
    return this.value === undefined ? undefined : { userId: this.value.user_id, pos: this.value.pos };
  }

  seqs(): [string, number][] {
    return Object.entries(this.value?.seqs ?? {});
  }

  setPosition(userId: string, pos: string): void {
    if (this.value?.user_id !== userId) this.value = { user_id: userId, pos, seqs: {} };
    else this.value.pos = pos;
    this.save();
  }

  setSeq(conversationId: string, seq: number): void {
    if (this.value === undefined) return;
    if ((this.value.seqs[conversationId] ?? 0) >= seq) return;
    this.value.seqs[conversationId] = seq;
    this.save();
  }

  reset(): void {
    this.value = undefined;
    this.storage.removeItem(this.key);
  }

  private save(): void {
    if (this.value !== undefined) this.storage.setItem(this.key, JSON.stringify(this.value));
  }
}
