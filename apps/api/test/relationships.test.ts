import { describe, expect, it } from "vitest";
import { api, service, useApiPerFile } from "./support/api-per-file";
import { provision } from "./support/conversation-fixtures";

useApiPerFile({ env: { PARLEY_POLICY: "clinic" }, service: true });

interface Relationship {
  user_id: string;
  other_user_id: string;
  kind: string;
  created_at: string;
}

const linkAs = (token: string | undefined, body: unknown) => api.request<Relationship>("POST", "/v1/relationships", { ...(token === undefined ? {} : { token }), body });
const unlinkAs = (token: string | undefined, body: unknown) => api.request("DELETE", "/v1/relationships", { ...(token === undefined ? {} : { token }), body });

describe("relationships", () => {
  it("creates a link (201), returns the same one again (200), and deletes it (204, then 404)", async () => {
    const body = { user_id: "patient-1", other_user_id: "doctor-1", kind: "care" };
    const created = await linkAs(service, body);
    expect(created).toMatchObject({ status: 201, body: { ...body, created_at: expect.any(String) as string } });
    const again = await linkAs(service, body);
    expect(again).toMatchObject({ status: 200, body: created.body });
    expect((await unlinkAs(service, body)).status).toBe(204);
    expect(await unlinkAs(service, body)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });

  it("treats each direction and kind as its own link", async () => {
    const forward = { user_id: "a-1", other_user_id: "b-1", kind: "care" };
    expect((await linkAs(service, forward)).status).toBe(201);
    expect((await linkAs(service, { ...forward, user_id: "b-1", other_user_id: "a-1" })).status).toBe(201);
    expect((await linkAs(service, { ...forward, kind: "like" })).status).toBe(201);
    expect((await unlinkAs(service, { ...forward, kind: "guardian" })).status).toBe(404);
  });

  it("accepts admin tokens", async () => {
    const admin = await provision(api, "admin");
    const body = { user_id: "p-2", other_user_id: "d-2", kind: "care" };
    expect((await linkAs(admin.token, body)).status).toBe(201);
    expect((await unlinkAs(admin.token, body)).status).toBe(204);
  });

  it("refuses anyone else with 403, even before looking at the body, and 401 without a token", async () => {
    const doctor = await provision(api, "doctor");
    const patient = await api.register("patient");
    const body = { user_id: patient.id, other_user_id: doctor.id, kind: "care" };
    for (const user of [doctor, patient]) {
      expect(await linkAs(user.token, body)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
      expect(await unlinkAs(user.token, body)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
      expect((await linkAs(user.token, {})).status).toBe(403);
    }
    expect((await linkAs(undefined, body)).status).toBe(401);
    expect((await unlinkAs(undefined, body)).status).toBe(401);
  });

  it("names the invalid field", async () => {
    const bad = async (body: unknown, field: string) => {
      expect(await linkAs(service, body)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
      expect(await unlinkAs(service, body)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
    };
    await bad({ other_user_id: "b", kind: "care" }, "user_id");
    await bad({ user_id: "a", kind: "care" }, "other_user_id");
    await bad({ user_id: "a", other_user_id: "b", kind: "Not A Word" }, "kind");
    await bad({ user_id: "a", other_user_id: "a", kind: "care" }, "other_user_id");
  });
});
