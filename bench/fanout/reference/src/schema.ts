/** The reference server's tables: who is in which room, and one row per message (what a hand-built stack keeps). */
export const REFERENCE_SCHEMA = `
CREATE TABLE IF NOT EXISTS ref_members (
  user_id text NOT NULL,
  conversation_id text NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);
CREATE TABLE IF NOT EXISTS ref_messages (
  id bigserial PRIMARY KEY,
  conversation_id text NOT NULL,
  sender_id text NOT NULL,
  content text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ref_messages_conversation ON ref_messages (conversation_id, id);
`;
