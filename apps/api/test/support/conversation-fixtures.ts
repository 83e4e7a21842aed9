import type { Conversation } from "@parley/protocol";
import type { ApiHarness, RegisteredUser } from "./api-harness";

/** A user of a role nobody may self-register (admin, doctor...): provisioned from an identity provider's token. */
export async function provision(api: ApiHarness, role: string, name = `${role}-${Math.random().toString(36).slice(2, 8)}`): Promise<RegisteredUser> {
  const token = await api.tokenFor({ sub: name, role, name });
  const me = await api.request<{ id: string; username: string }>("GET", "/v1/users/me", { token });
  if (me.status !== 200) throw new Error(`provisioning failed: ${me.status} ${JSON.stringify(me.body)}`);
  return { id: me.body.id, username: me.body.username, role, token };
}

/** The back-office integration of the tests. */
export function serviceToken(api: ApiHarness): Promise<string> {
  return api.tokenFor({ sub: "booking-system", role: "service" });
}

export async function openConversation(api: ApiHarness, token: string, body: Record<string, unknown>): Promise<Conversation> {
  const response = await api.request<Conversation>("POST", "/v1/conversations", { token, body });
  if (response.status !== 201 && response.status !== 200) throw new Error(`open failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Links two users through POST /v1/relationships (with a service or admin token). */
export async function link(api: ApiHarness, token: string, userId: string, otherUserId: string, kind: string): Promise<void> {
  const response = await api.request("POST", "/v1/relationships", { token, body: { user_id: userId, other_user_id: otherUserId, kind } });
  if (response.status !== 201 && response.status !== 200) throw new Error(`link failed: ${response.status} ${JSON.stringify(response.body)}`);
}
