import type { Message } from "@parley/protocol";
import { backoffDelay, type BackoffOptions } from "./backoff";
import type { Clock } from "./clock";

export interface HistoryPage {
  readonly items: readonly Message[];
  /** More messages exist after the last item. */
  readonly more: boolean;
}

export interface SequencerOptions {
  /** Messages of a conversation after `afterSeq`, ascending (REST history). */
  readonly fetchAfter: (conversationId: string, afterSeq: number) => Promise<HistoryPage>;
  /** Called once per message, per conversation in seq order without gaps. */
  readonly release: (message: Message, source: "live" | "history") => void;
  /** The conversation's high-water mark moved (persist it). */
  readonly advanced: (conversationId: string, seq: number) => void;
  readonly failed: (error: unknown) => void;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
}

interface Track {
  /** Every seq up to here was released (undefined: nothing known yet). */
  hw: number | undefined;
  /** Arrived ahead of a gap, waiting for it to be filled. */
  readonly ahead: Map<number, Message>;
  /** Fill up to here even without a message ahead (a conversation known to have moved on). */
  target: number;
  filling: boolean;
  failures: number;
  /** Fetches in a row that brought nothing new while messages waited ahead of the gap. */
  stalls: number;
}

/** Empty answers for a gap before the messages held ahead of it are released anyway. */
const MAX_STALLS = 3;

/**
 * Per conversation: releases messages in seq order, each exactly once (de-duplicated by (conversation, seq)); a gap
 * holds later messages back and is filled from REST history.
 */
export class Sequencer {
  private readonly tracks = new Map<string, Track>();
  private closed = false;

  constructor(private readonly options: SequencerOptions) {}

  /** The highest seq released for a conversation without a gap. */
  highWater(conversationId: string): number | undefined {
    return this.tracks.get(conversationId)?.hw;
  }

  /** Conversations with a known high-water mark. */
  known(): Map<string, number> {
    const result = new Map<string, number>();
    for (const [id, track] of this.tracks) if (track.hw !== undefined) result.set(id, track.hw);
    return result;
  }

  /** Starts a conversation at `seq` (from storage, or a view that loaded its newest page); never moves it back. */
  seed(conversationId: string, seq: number): void {
    const track = this.track(conversationId);
    if (track.hw === undefined || seq > track.hw) {
      track.hw = seq;
      for (const key of [...track.ahead.keys()]) if (key <= seq) track.ahead.delete(key);
      this.drain(conversationId, track, "live");
    }
  }

  /** A message from a live event (or a send's ack). */
  offer(message: Message, source: "live" | "history" = "live"): void {
    if (this.closed) return;
    const conversationId = message.conversation_id;
    const track = this.track(conversationId);
    // The first message of a conversation the client knows nothing about starts it.
    track.hw ??= message.seq - 1;
    if (message.seq <= track.hw || track.ahead.has(message.seq)) return;
    if (message.seq === track.hw + 1) {
      this.releaseOne(conversationId, track, message, source);
      this.drain(conversationId, track, source);
      return;
    }
    track.ahead.set(message.seq, message);
    this.fill(conversationId, track);
  }

  /** The conversation is known to reach `lastSeq` (e.g. after `resume_too_old`): fetch what is missing. */
  catchUp(conversationId: string, lastSeq: number): void {
    const track = this.tracks.get(conversationId);
    if (track?.hw === undefined || lastSeq <= track.hw) return;
    track.target = Math.max(track.target, lastSeq);
    this.fill(conversationId, track);
  }

  close(): void {
    this.closed = true;
  }

  private async pause(attempt: number): Promise<void> {
    await new Promise<void>((resolve) => this.options.clock.setTimeout(resolve, backoffDelay(this.options.backoff, attempt, this.options.random)));
  }

  private track(conversationId: string): Track {
    let track = this.tracks.get(conversationId);
    if (track === undefined) {
      track = { hw: undefined, ahead: new Map(), target: 0, filling: false, failures: 0, stalls: 0 };
      this.tracks.set(conversationId, track);
    }
    return track;
  }

  private releaseOne(conversationId: string, track: Track, message: Message, source: "live" | "history"): void {
    track.hw = message.seq;
    this.options.release(message, source);
    this.options.advanced(conversationId, message.seq);
  }

  private drain(conversationId: string, track: Track, source: "live" | "history"): void {
    for (;;) {
      const next = track.hw === undefined ? undefined : track.ahead.get(track.hw + 1);
      if (next === undefined) return;
      track.ahead.delete(next.seq);
      this.releaseOne(conversationId, track, next, source);
    }
  }

  private wanted(track: Track): boolean {
    return track.hw !== undefined && (track.ahead.size > 0 || track.target > track.hw);
  }

  private fill(conversationId: string, track: Track): void {
    if (track.filling || this.closed || !this.wanted(track)) return;
    track.filling = true;
    void this.fillLoop(conversationId, track).finally(() => {
      track.filling = false;
    });
  }

  private async fillLoop(conversationId: string, track: Track): Promise<void> {
    while (!this.closed && this.wanted(track) && track.hw !== undefined) {
      const from = track.hw;
      let page: HistoryPage;
      try {
        page = await this.options.fetchAfter(conversationId, from);
        track.failures = 0;
      } catch (error) {
        this.options.failed(error);
        track.failures += 1;
        await this.pause(track.failures);
        continue;
      }
      for (const message of page.items) this.offer(message, "history");
      if (track.hw !== from) track.stalls = 0;
      if (track.hw === from) {
        // History cannot serve the next seq (seqs have no gaps, so it is not there yet or no longer): release what is
        // held rather than stall, and stop chasing a target that history does not reach.
        const lowest = Math.min(...track.ahead.keys());
        if (Number.isFinite(lowest) && track.stalls < MAX_STALLS) {
          // The commit may just not be visible yet: ask again shortly before giving up on the gap.
          track.stalls += 1;
          await this.pause(track.stalls);
          continue;
        }
        track.stalls = 0;
        if (Number.isFinite(lowest)) {
          track.hw = lowest - 1;
          this.drain(conversationId, track, "history");
        } else {
          track.target = from;
        }
        if (track.hw === from) return;
      }
    }
  }
}
