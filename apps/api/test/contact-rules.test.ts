import type { Conversation, Message, Page } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { api, service, useApiPerFile } from "./support/api-per-file";
import { link, openConversation, provision, serviceToken } from "./support/conversation-fixtures";
import { EventProbe, ofType } from "./support/event-probe";

useApiPerFile({ env: { PARLEY_POLICY: "clinic" }, service: true });

let counter = 0;
const send = (user: RegisteredUser, conversationId: string, content = "hello") =>
  api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token: user.token, body: { client_msg_id: `c-${++counter}`, content } });
const get = (user: RegisteredUser, id: string) => api.request<Conversation>("GET", `/v1/conversations/${id}`, { token: user.token });
const unlink = (a: string, b: string, kind: string) => api.request("DELETE", "/v1/relationships", { token: service, body: { user_id: a, other_user_id: b, kind } });

/** A harness of its own under another preset (with its service token), closed when `body` ends. */
async function underPolicy(policy: string, body: (other: ApiHarness, svc: string) => Promise<void>): Promise<void> {
  const other = await ApiHarness.start({ PARLEY_POLICY: policy });
  try {
    await body(other, await serviceToken(other));
  } finally {
    await other.close();
  }
}

async function carePair(): Promise<{ patient: RegisteredUser; doctor: RegisteredUser; conversation: Conversation }> {
  const patient = await api.register("patient");
  const doctor = await provision(api, "doctor");
  await link(api, service, patient.id, doctor.id, "care");
  const conversation = await openConversation(api, patient.token, { type: "direct", participant_ids: [doctor.id] });
  return { patient, doctor, conversation };
}

describe("a direct conversation whose relationship ends", () => {
  it("closes at once for both (conversation_closed, closed: true, conversation_updated to both), keeps history, and reopens on re-linking", async () => {
    const { patient, doctor, conversation } = await carePair();
    expect(conversation.closed).toBe(false);
    const first = await send(patient, conversation.id, "before");
    expect(first.status).toBe(201);
    const probe = await EventProbe.start(api, [patient.id, doctor.id]);
    try {
      expect((await unlink(patient.id, doctor.id, "care")).status).toBe(204);
      const events = await probe.next();
      for (const user of [patient, doctor]) {
        expect(ofType(events.get(user.id), "conversation_updated").map((e) => [e.conversation.id, e.conversation.closed])).toEqual([[conversation.id, true]]);
      }
      for (const user of [patient, doctor]) {
        expect(await send(user, conversation.id)).toMatchObject({ status: 403, body: { error: { code: "conversation_closed" } } });
        expect((await get(user, conversation.id)).body.closed).toBe(true);
      }
      const edit = await api.request("PATCH", `/v1/messages/${first.body.id}`, { token: patient.token, body: { content: "changed" } });
      expect(edit).toMatchObject({ status: 403, body: { error: { code: "conversation_closed" } } });
      const history = await api.request<Page<Message>>("GET", `/v1/conversations/${conversation.id}/messages`, { token: doctor.token });
      expect(history.body.items.map((m) => m.content)).toEqual(["before"]);
      const listed = await api.request<Page<Conversation>>("GET", "/v1/conversations", { token: patient.token });
      expect(listed.body.items.find((c) => c.id === conversation.id)?.closed).toBe(true);
      // Nothing else may open it again either.
      const again = await api.request("POST", "/v1/conversations", { token: patient.token, body: { type: "direct", participant_ids: [doctor.id] } });
      expect(again.status).toBe(403);

      await link(api, service, doctor.id, patient.id, "care");
      const reopened = await probe.next();
      for (const user of [patient, doctor]) {
        expect(ofType(reopened.get(user.id), "conversation_updated").map((e) => e.conversation.closed)).toEqual([false]);
      }
      expect((await send(doctor, conversation.id, "after")).status).toBe(201);
      expect((await get(patient, conversation.id)).body.closed).toBe(false);
    } finally {
      await probe.close();
    }
  });

  it("closes when a role change means the policy no longer allows the pair", async () => {
    const { patient, doctor, conversation } = await carePair();
    const admin = await provision(api, "admin");
    const changed = await api.request("PATCH", `/v1/admin/users/${doctor.id}`, { token: admin.token, body: { role: "patient" } });
    expect(changed.status).toBe(200);
    expect(await send(patient, conversation.id)).toMatchObject({ status: 403, body: { error: { code: "conversation_closed" } } });
    const back = await api.request("PATCH", `/v1/admin/users/${doctor.id}`, { token: admin.token, body: { role: "doctor" } });
    expect(back.status).toBe(200);
    expect((await send(patient, conversation.id)).status).toBe(201);
  });

  it("lets a service token still post system messages into a closed conversation", async () => {
    const { patient, doctor, conversation } = await carePair();
    await unlink(patient.id, doctor.id, "care");
    const posted = await api.request("POST", `/v1/conversations/${conversation.id}/messages`, { token: service, body: { client_msg_id: "sys-1", content: "Care ended", type: "system" } });
    expect(posted.status).toBe(201);
  });
});

describe("groups when contact is lost (clinic: on_contact_lost remove)", () => {
  it("removes a member the owner may no longer contact, with a system message", async () => {
    const doctor = await provision(api, "doctor");
    const [p1, p2] = [await api.register("patient"), await api.register("patient")];
    await link(api, service, p1.id, doctor.id, "care");
    await link(api, service, p2.id, doctor.id, "care");
    const group = await openConversation(api, doctor.token, { type: "group", title: "rehab", participant_ids: [p1.id, p2.id] });
    await unlink(p1.id, doctor.id, "care");
    const view = await get(doctor, group.id);
    expect(view.body.participants?.map((p) => p.user_id).sort()).toEqual([doctor.id, p2.id].sort());
    expect((await send(p1, group.id)).status).toBe(404);
    const history = await api.request<Page<Message>>("GET", `/v1/conversations/${group.id}/messages`, { token: doctor.token });
    expect(history.body.items.filter((m) => m.type === "system").map((m) => m.content)).toEqual([expect.stringContaining("was removed") as string]);
  });
});

describe("groups when contact is lost (salon: on_contact_lost keep)", () => {
  it("keeps a client whose link ended in the salon's group (still a member, still writing) while their direct conversation closes", async () => {
    await underPolicy("salon", async (salonApi, svc) => {
      const [salon, client] = [await salonApi.register("salon"), await salonApi.register("client")];
      await link(salonApi, svc, client.id, salon.id, "client");
      const group = await openConversation(salonApi, salon.token, { type: "group", title: "offers", participant_ids: [client.id] });
      const direct = await openConversation(salonApi, client.token, { type: "direct", participant_ids: [salon.id] });
      expect((await salonApi.request("DELETE", "/v1/relationships", { token: svc, body: { user_id: client.id, other_user_id: salon.id, kind: "client" } })).status).toBe(204);
      const view = await salonApi.request<Conversation>("GET", `/v1/conversations/${group.id}`, { token: salon.token });
      expect(view.body.participants?.map((p) => p.user_id).sort()).toEqual([salon.id, client.id].sort());
      const post = (conversationId: string) => salonApi.request("POST", `/v1/conversations/${conversationId}/messages`, { token: client.token, body: { client_msg_id: `k-${++counter}`, content: "hi" } });
      expect((await post(group.id)).status).toBe(201);
      expect(await post(direct.id)).toMatchObject({ status: 403, body: { error: { code: "conversation_closed" } } });
    });
  });
});

describe("a policy that hides closed conversations (dating)", () => {
  it("leaves an unmatched pair's conversation out of the default list; ?closed=true lists it, history stays readable", async () => {
    await underPolicy("dating", async (dating, svc) => {
      const [ann, ben] = [await dating.register("member"), await dating.register("member")];
      await link(dating, svc, ann.id, ben.id, "like");
      await link(dating, svc, ben.id, ann.id, "like");
      const match = await openConversation(dating, ann.token, { type: "direct", participant_ids: [ben.id] });
      const listed = async (query: string) => (await dating.request<Page<Conversation>>("GET", `/v1/conversations${query}`, { token: ann.token })).body.items.map((c) => c.id);
      expect(await listed("")).toEqual([match.id]);
      await dating.request("DELETE", "/v1/relationships", { token: svc, body: { user_id: ben.id, other_user_id: ann.id, kind: "like" } });
      expect(await listed("")).toEqual([]);
      expect(await listed("?closed=true")).toEqual([match.id]);
      expect((await dating.request("GET", `/v1/conversations/${match.id}/messages`, { token: ann.token })).status).toBe(200);
    });
  });
});
