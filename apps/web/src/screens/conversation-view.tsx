import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError } from "../errors";
import type { ConversationModel, ConversationRecord, Live, ShownMessage } from "../live";
import { loadDraft, loadScroll, saveDraft, saveScroll, type ScrollAnchor } from "../persisted";
import type { Me } from "../session";
import { useStore } from "../store";
import { conversationTitle, otherParticipant } from "./conversation-list";

type Participant = NonNullable<ConversationRecord["participants"]>[number];

const TYPING_IDLE_MS = 3_000;

/** One conversation: history paging upward, live messages, typing, delivered/read ticks, reply, edit, delete. */
export function ConversationView({ live, me, conversationId }: { live: Live; me: Me; conversationId: string }) {
  const [error, setError] = useState<string | undefined>();
  const model = useMemo(() => live.conversation(conversationId), [live, conversationId]);
  useEffect(() => () => model.close(), [model]);
  const snapshot = useStore(model.snapshot);
  const conversation = snapshot.record;

  const [replyTo, setReplyTo] = useState<ShownMessage | undefined>();
  const [editing, setEditing] = useState<ShownMessage | undefined>();
  const byId = useMemo(() => new Map(snapshot.messages.map((message) => [message.id, message])), [snapshot.messages]);
  const names = useMemo(() => new Map((conversation?.participants ?? []).map((p: Participant) => [p.user_id, p.display_name ?? "Someone"])), [conversation]);
  const others = (conversation?.participants ?? []).filter((p) => p.user_id !== me.id);
  const otherIds = others.map((p) => p.user_id).join(",");
  useEffect(() => {
    if (otherIds !== "") live.watchPresence(otherIds.split(","));
  }, [live, otherIds]);

  // Scrolling: restore the saved anchor once, then stick to the bottom when the reader is there.
  const list = useRef<HTMLOListElement>(null);
  const restored = useRef(false);
  const atBottom = useRef(true);
  useLayoutEffect(() => {
    const element = list.current;
    if (!element || !snapshot.loaded) return;
    if (!restored.current) {
      const anchor = loadScroll(conversationId);
      if (anchor !== undefined && !anchor.atBottom) {
        if (!restoreAnchor(element, anchor)) {
          // The anchored message is older than what is loaded: page back until it is there.
          if (snapshot.hasOlder) void model.loadOlder();
          else restored.current = true;
          return;
        }
        atBottom.current = false;
      } else {
        element.scrollTop = element.scrollHeight;
      }
      restored.current = true;
      return;
    }
    if (atBottom.current) element.scrollTop = element.scrollHeight;
  }, [snapshot, conversationId, model]);

  const onScroll = () => {
    const element = list.current;
    if (!element || !restored.current) return;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
    const anchor = anchorOf(element, atBottom.current);
    if (anchor !== undefined) saveScroll(conversationId, anchor);
    if (element.scrollTop < 40 && snapshot.hasOlder && !snapshot.loadingOlder) void keepPosition(element, () => model.loadOlder());
  };

  // Everything shown is read: tell the server (the model only sends when the mark moves forward).
  const newestSeq = snapshot.messages.at(-1)?.seq;
  useEffect(() => {
    if (newestSeq !== undefined && document.visibilityState === "visible") model.markRead(newestSeq);
  }, [model, newestSeq]);

  const typingNames = snapshot.typing.filter((id) => id !== me.id).map((id) => names.get(id) ?? "Someone");
  const title = conversation === undefined ? "Conversation" : conversationTitle(conversation, me);
  const other = conversation === undefined ? undefined : otherParticipant(conversation, me);
  const presence = useStore(live.presence);

  return (
    <section class="conversation" aria-labelledby="conversation-title">
      <header class="conversation-header">
        <a href="/conversations" aria-label="Back to conversations">
          ←
        </a>
        <h1 id="conversation-title">{title}</h1>
        {other !== undefined && <span class="hint">{presence.get(other.user_id) ?? "offline"}</span>}
      </header>
      {(error ?? snapshot.error) !== undefined && (
        <p role="alert" class="error">
          {error ?? snapshot.error}
        </p>
      )}
      <ol class="messages" ref={list} onScroll={onScroll} aria-label="Messages" tabIndex={0} data-testid="messages">
        {snapshot.hasOlder && (
          <li class="message system">
            <button type="button" class="link" disabled={snapshot.loadingOlder} onClick={() => list.current && void keepPosition(list.current, () => model.loadOlder())}>
              {snapshot.loadingOlder ? "Loading older messages…" : "Load older messages"}
            </button>
          </li>
        )}
        {snapshot.loaded && snapshot.messages.length === 0 && snapshot.pending.length === 0 && <li class="message system">No messages yet. Say hello!</li>}
        {snapshot.messages.map((message) => (
          <MessageItem
            key={message.id}
            message={message}
            mine={message.sender_id === me.id}
            sender={message.sender_id === null ? "Parley" : (names.get(message.sender_id) ?? "Someone")}
            quoted={message.reply_to === null ? undefined : byId.get(message.reply_to)}
            receipt={receiptFor(message, others, snapshot)}
            onReply={() => setReplyTo(message)}
            onEdit={() => setEditing(message)}
            onDelete={() => void model.remove(message.id)}
          />
        ))}
        {snapshot.pending.map((entry) => (
          <li key={entry.client_msg_id} class="message mine" data-state={entry.state} data-testid="pending-message">
            <div class="body">{entry.content}</div>
            <div class="meta">
              {entry.state === "failed" ? (
                <>
                  <span class="ticks failed">Not sent{entry.error === undefined ? "" : `: ${entry.error.message}`}</span>
                  <button type="button" class="small" onClick={() => model.retry(entry.client_msg_id)}>
                    Retry
                  </button>
                </>
              ) : (
                <span class="ticks" title="Sending" aria-label="sending">
                  🕓
                </span>
              )}
            </div>
          </li>
        ))}
      </ol>
      <div class="typing" aria-live="polite" data-testid="typing">
        {typingNames.length > 0 && `${typingNames.join(", ")} ${typingNames.length === 1 ? "is" : "are"} typing…`}
      </div>
      <Composer
        key={editing?.id ?? "new"}
        userId={me.id}
        conversationId={conversationId}
        model={model}
        replyTo={replyTo === undefined ? undefined : { message: replyTo, sender: names.get(replyTo.sender_id ?? "") ?? "Someone" }}
        editing={editing}
        onDone={() => {
          setReplyTo(undefined);
          setEditing(undefined);
          atBottom.current = true;
        }}
        onError={setError}
      />
    </section>
  );
}

type Receipt = "sent" | "delivered" | "read";

/** For my own messages: read once every other participant read it, delivered once every one received it. */
function receiptFor(
  message: ShownMessage,
  others: readonly Participant[],
  seen: { readonly readUpTo: ReadonlyMap<string, number>; readonly deliveredUpTo: ReadonlyMap<string, number> },
): Receipt {
  if (others.length === 0) return "sent";
  const read = (userId: string) => seen.readUpTo.get(userId) ?? 0;
  // Reading implies receiving, whatever order the two receipts arrived in.
  const delivered = (userId: string) => Math.max(seen.deliveredUpTo.get(userId) ?? 0, read(userId));
  if (others.every((participant) => read(participant.user_id) >= message.seq)) return "read";
  if (others.every((participant) => delivered(participant.user_id) >= message.seq)) return "delivered";
  return "sent";
}

function MessageItem(props: {
  message: ShownMessage;
  mine: boolean;
  sender: string;
  quoted: ShownMessage | undefined;
  receipt: Receipt;
  onReply: () => void;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const { message, mine } = props;
  if (message.type === "system") {
    return (
      <li class="message system" data-seq={message.seq}>
        {message.content}
      </li>
    );
  }
  const time = new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return (
    <li class={`message${mine ? " mine" : ""}${message.deleted ? " deleted" : ""}`} data-seq={message.seq} data-testid="message">
      {!mine && <div class="hint">{props.sender}</div>}
      {props.quoted !== undefined && <div class="quote">{props.quoted.deleted ? "Message deleted" : props.quoted.content}</div>}
      <div class="body">{message.deleted ? "Message deleted" : message.content}</div>
      {!message.deleted && message.attachments.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {message.attachments.map((attachment) => (
            <li key={attachment.url}>
              📎{" "}
              <a href={attachment.url} target="_blank" rel="noopener noreferrer">
                {attachment.name}
              </a>{" "}
              <span class="hint">
                ({attachment.mime_type}, {formatSize(attachment.size)})
              </span>
            </li>
          ))}
        </ul>
      )}
      <div class="meta">
        {message.edited_at !== null && !message.deleted && <span>edited</span>}
        <time dateTime={message.created_at}>{time}</time>
        {mine && !message.deleted && (
          <span class={`ticks ${props.receipt}`} data-testid="receipt" data-receipt={props.receipt} aria-label={props.receipt} title={props.receipt}>
            {props.receipt === "sent" ? "✓" : "✓✓"}
          </span>
        )}
      </div>
      {!message.deleted && (
        <div class="actions">
          <button type="button" class="small" onClick={props.onReply} aria-label={`Reply to ${props.sender}`}>
            Reply
          </button>
          {mine && (
            <>
              <button type="button" class="small" onClick={props.onEdit}>
                Edit
              </button>
              <button type="button" class="small" onClick={props.onDelete}>
                Delete
              </button>
            </>
          )}
        </div>
      )}
    </li>
  );
}

function Composer(props: {
  userId: string;
  conversationId: string;
  model: ConversationModel;
  replyTo: { message: ShownMessage; sender: string } | undefined;
  editing: ShownMessage | undefined;
  onDone: () => void;
  onError: (text: string) => void;
}) {
  const { model, editing } = props;
  // The draft survives a reload; an edit starts from the message itself.
  const [text, setText] = useState(() => editing?.content ?? loadDraft(props.userId, props.conversationId));
  const typingTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const input = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (editing !== undefined || props.replyTo !== undefined) input.current?.focus();
  }, [editing, props.replyTo]);
  useEffect(
    () => () => {
      clearTimeout(typingTimer.current);
      model.setTyping(false);
    },
    [model],
  );

  const change = (value: string) => {
    setText(value);
    if (editing !== undefined) return;
    saveDraft(props.userId, props.conversationId, value);
    if (value === "") {
      model.setTyping(false);
      return;
    }
    model.setTyping(true);
    clearTimeout(typingTimer.current);
    typingTimer.current = setTimeout(() => model.setTyping(false), TYPING_IDLE_MS);
  };

  const submit = (event?: Event) => {
    event?.preventDefault();
    const content = text.trim();
    if (content === "") return;
    clearTimeout(typingTimer.current);
    model.setTyping(false);
    if (editing !== undefined) {
      model.edit(editing.id, content).then(props.onDone, (caught: unknown) => props.onError(describeError(caught)));
    } else {
      model.send(content, props.replyTo?.message.id);
      saveDraft(props.userId, props.conversationId, "");
      props.onDone();
    }
    setText("");
  };

  return (
    <form class="stack" onSubmit={submit} aria-label={editing === undefined ? "Write a message" : "Edit the message"}>
      {props.replyTo !== undefined && editing === undefined && (
        <div class="replying">
          <span>
            Replying to {props.replyTo.sender}: “{props.replyTo.message.content}”
          </span>
          <button type="button" class="small" onClick={props.onDone}>
            Cancel
          </button>
        </div>
      )}
      {editing !== undefined && (
        <div class="replying">
          <span>Editing your message</span>
          <button type="button" class="small" onClick={props.onDone}>
            Cancel
          </button>
        </div>
      )}
      <div class="composer">
        <label class="grow">
          <span class="visually-hidden">Message</span>
          <textarea
            ref={input}
            name="message"
            rows={2}
            value={text}
            placeholder="Write a message — Enter sends, Shift+Enter adds a line"
            onInput={(event) => change(event.currentTarget.value)}
            onKeyDown={(event) => {
              if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
              if (event.key === "Escape" && (editing !== undefined || props.replyTo !== undefined)) props.onDone();
            }}
          />
        </label>
        <button type="submit">{editing === undefined ? "Send" : "Save"}</button>
      </div>
    </form>
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The first message whose bottom is below the list's top edge, and how far above the edge it starts. */
function anchorOf(element: HTMLElement, atBottom: boolean): ScrollAnchor | undefined {
  const top = element.getBoundingClientRect().top;
  for (const item of element.querySelectorAll<HTMLElement>("[data-seq]")) {
    const box = item.getBoundingClientRect();
    if (box.bottom > top) return { seq: Number(item.dataset.seq), offset: top - box.top, atBottom };
  }
  return undefined;
}

function restoreAnchor(element: HTMLElement, anchor: ScrollAnchor): boolean {
  const item = element.querySelector<HTMLElement>(`[data-seq="${anchor.seq}"]`);
  if (!item) return false;
  element.scrollTop += item.getBoundingClientRect().top - element.getBoundingClientRect().top + anchor.offset;
  return true;
}

/** Loads older messages above without moving what the reader looks at. */
async function keepPosition(element: HTMLElement, load: () => Promise<void>): Promise<void> {
  const before = element.scrollHeight - element.scrollTop;
  await load();
  requestAnimationFrame(() => {
    element.scrollTop = element.scrollHeight - before;
  });
}
