import type { RestResponse } from "@parley/sdk";
import { useCallback, useEffect, useState } from "preact/hooks";
import { MoreButton, ToggleButton } from "../components/buttons";
import { PresenceDot } from "../components/presence-dot";
import { describeError } from "../errors";
import type { Live } from "../live";
import { appendNextPage } from "../paging";
import { navigate } from "../router";
import type { Me, Session } from "../session";
import { useStore } from "../store";

type Conversation = RestResponse<"listConversations">["items"][number];

/** The other person of a direct conversation, or undefined for groups and support. */
export function otherParticipant(conversation: Conversation, me: Me) {
  if (conversation.type !== "direct") return undefined;
  return conversation.participants?.find((participant) => participant.user_id !== me.id);
}

export function conversationTitle(conversation: Conversation, me: Me): string {
  const other = otherParticipant(conversation, me);
  if (other !== undefined) return other.display_name ?? "Direct conversation";
  return conversation.title ?? (conversation.type === "support" ? "Support" : "Group");
}

function preview(conversation: Conversation, me: Me): string {
  const last = conversation.last_message;
  if (last === null) return "No messages yet";
  if (last.deleted) return "Message deleted";
  const who = last.sender_id === me.id ? "You: " : "";
  const text = last.content ?? "";
  const files = last.attachments.length > 0 ? ` 📎 ${last.attachments.length}` : "";
  return `${who}${text}${files}`.trim();
}

/** The caller's conversations, most recent first, with unread badges and presence; live through the realtime client. */
export function ConversationList({ session, live, me, archived }: { session: Session; live: Live; me: Me; archived: boolean }) {
  const [items, setItems] = useState<Conversation[] | undefined>();
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | undefined>();
  const presence = useStore(live.presence);

  const load = useCallback(async () => {
    try {
      const page = await session.rest.api.listConversations({ query: { archived, limit: 50 } });
      setItems(page.items);
      setCursor(page.next_cursor);
      setError(undefined);
      live.watchPresence(page.items.flatMap((item) => (item.participants ?? []).map((participant) => participant.user_id)).filter((id) => id !== me.id));
    } catch (caught) {
      setError(describeError(caught));
    }
  }, [session, live, me.id, archived]);

  useEffect(() => {
    void load();
    // Any change to a conversation (a message, a read, settings) re-reads the first page: simple and always right.
    return live.onConversationsChanged(() => void load());
  }, [load, live]);

  const more = () => appendNextPage(cursor, (after) => session.rest.api.listConversations({ query: { archived, limit: 50, cursor: after } }), { setItems, setCursor, setError });

  const settings = async (conversation: Conversation, change: { muted?: boolean; archived?: boolean }) => {
    try {
      await session.rest.api.updateConversationSettings({ params: { id: conversation.id }, body: change });
      await load();
    } catch (caught) {
      setError(describeError(caught));
    }
  };

  return (
    <section aria-labelledby="list-title" class="conversation-list">
      <header class="row">
        <h1 id="list-title">{archived ? "Archived conversations" : "Conversations"}</h1>
        <nav class="row" aria-label="Filter">
          <a href="/conversations" aria-current={archived ? undefined : "page"}>
            Active
          </a>
          <a href="/conversations?archived=true" aria-current={archived ? "page" : undefined}>
            Archived
          </a>
          <button type="button" onClick={() => navigate("/conversations/new")}>
            New conversation
          </button>
        </nav>
      </header>
      {error !== undefined && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {items === undefined ? (
        <p aria-busy="true">Loading…</p>
      ) : items.length === 0 ? (
        <p class="empty">{archived ? "Nothing archived." : "No conversations yet. Start one with “New conversation”."}</p>
      ) : (
        <ul class="list" aria-label="Conversations">
          {items.map((conversation) => {
            const other = otherParticipant(conversation, me);
            const title = conversationTitle(conversation, me);
            return (
              <li key={conversation.id} class="list-item" data-conversation-id={conversation.id}>
                <a class="list-link" href={`/conversations/${conversation.id}`} aria-label={`${title}${conversation.unread_count > 0 ? `, ${conversation.unread_count} unread` : ""}`}>
                  {other !== undefined && <PresenceDot status={presence.get(other.user_id)} />}
                  <span class="list-main">
                    <span class="list-title">
                      {title}
                      {conversation.muted && <span class="tag">muted</span>}
                    </span>
                    <span class="list-preview">{preview(conversation, me)}</span>
                  </span>
                  {conversation.unread_count > 0 && (
                    <span class={`badge${conversation.muted ? " badge-muted" : ""}`} data-testid="unread">
                      {conversation.unread_count}
                    </span>
                  )}
                </a>
                <span class="list-actions">
                  <ToggleButton on={conversation.muted} verb={["Mute", "Unmute"]} subject={title} onToggle={() => void settings(conversation, { muted: !conversation.muted })} />
                  <ToggleButton on={conversation.archived} verb={["Archive", "Unarchive"]} subject={title} onToggle={() => void settings(conversation, { archived: !conversation.archived })} />
                </span>
              </li>
            );
          })}
        </ul>
      )}
      <MoreButton cursor={cursor} label="Show more" onMore={more} />
    </section>
  );
}
