import { describe, expect, it } from "vitest";
import { createConversationBody, historyQuery, registerBody, sendMessageBody } from "../src";

describe("REST bodies", () => {
  it("accepts a register body and names the bad field", () => {
    expect(registerBody.safeParse({ username: "ada", password: "correct horse", display_name: "Ada", role: "teacher" }).success).toBe(true);
    const bad = registerBody.safeParse({ username: "ada", password: "short", display_name: "Ada", role: "teacher" });
    expect(bad.error?.issues[0]?.path).toEqual(["password"]);
  });

  it("tells conversation types apart", () => {
    expect(createConversationBody.parse({ type: "direct", participant_ids: ["u2"] })).toEqual({ type: "direct", participant_ids: ["u2"] });
    expect(createConversationBody.safeParse({ type: "group", participant_ids: [] }).error?.issues[0]?.path).toEqual(["title"]);
    expect(createConversationBody.safeParse({ type: "channel" }).success).toBe(false);
  });

  it("defaults a message to text with no attachments", () => {
    expect(sendMessageBody.parse({ client_msg_id: "a", content: "hi" })).toEqual({ client_msg_id: "a", content: "hi", type: "text", attachments: [] });
  });

  it("coerces history query strings and refuses both directions at once", () => {
    expect(historyQuery.parse({ after_seq: "3", limit: "10" })).toEqual({ after_seq: 3, limit: 10 });
    expect(historyQuery.safeParse({ after_seq: "3", before_seq: "9" }).success).toBe(false);
  });
});
