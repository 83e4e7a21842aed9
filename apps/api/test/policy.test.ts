import { schema } from "@parley/db";
import type { Page, PublicUser } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPolicy, type PresetName } from "../src/services/policy";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { link, openConversation, provision, serviceToken } from "./support/conversation-fixtures";

/** One harness per preset, started by the describe block that needs it. */
function withPreset(preset: PresetName): { api: () => ApiHarness; service: () => string } {
  let api: ApiHarness | undefined;
  let service = "";
  beforeAll(async () => {
    api = await ApiHarness.start({ PARLEY_POLICY: preset });
    service = await serviceToken(api);
  });
  afterAll(async () => {
    await api?.close();
  });
  return {
    api: () => {
      if (!api) throw new Error("harness not started");
      return api;
    },
    service: () => service,
  };
}

/** The tests of one preset on its own harness; every preset's SQL filter must also agree with its policy engine. */
function describePreset(preset: PresetName, tests: (harness: { api: () => ApiHarness; service: () => string }) => void): void {
  describe(preset, () => {
    const harness = withPreset(preset);
    tests(harness);
    it("agrees with the policy engine in SQL", async () => {
      await sqlAgreesWithEngine(harness.api(), preset);
    });
  });
}

async function direct(api: ApiHarness, from: RegisteredUser, to: RegisteredUser): Promise<number> {
  return (await api.request("POST", "/v1/conversations", { token: from.token, body: { type: "direct", participant_ids: [to.id] } })).status;
}

async function visible(api: ApiHarness, from: RegisteredUser, to: RegisteredUser): Promise<boolean> {
  const page = await api.request<Page<PublicUser>>("GET", `/v1/users?q=${to.username}&limit=100`, { token: from.token });
  return page.body.items.some((u) => u.id === to.id);
}

/** Can `from` open a direct conversation with `to`, and does user search agree? */
async function contact(api: ApiHarness, from: RegisteredUser, to: RegisteredUser): Promise<"allowed" | "refused"> {
  const [status, listed] = [await direct(api, from, to), await visible(api, from, to)];
  if ((status === 201 || status === 200) && listed) return "allowed";
  if (status === 403 && !listed) return "refused";
  throw new Error(`direct answered ${status} while search ${listed ? "lists" : "hides"} the user`);
}

/**
 * The SQL filter behind search, group and presence checks must agree with the policy engine for every role
 * pair and link state: one caller per role, and per target role a user with no link and users linked
 * forward, backward and both ways by each kind the preset uses (and one it does not).
 */
async function sqlAgreesWithEngine(api: ApiHarness, preset: PresetName): Promise<void> {
  const policy = loadPolicy(preset);
  const roles = [...policy.definition.roles.filter((r) => r !== "service"), "unlisted"];
  const kinds = [...new Set(policy.definition.contact.flatMap((rule) => (rule.requires ? [rule.requires.kind] : []))), "unrelated"];
  const users: { id: string; username: string; displayName: string; role: string }[] = [];
  const links = new Set<string>();
  const cases: { caller: { id: string; role: string }; targets: { id: string; role: string }[] }[] = [];
  const user = (id: string, role: string) => {
    users.push({ id, username: id, displayName: id, role });
    return { id, role };
  };
  for (const callerRole of roles) {
    const caller = user(`eq-${callerRole}`, callerRole);
    const targets: { id: string; role: string }[] = [];
    for (const targetRole of roles) {
      targets.push(user(`eq-${callerRole}-${targetRole}-none`, targetRole));
      for (const kind of kinds) {
        for (const [state, pairs] of [["fwd", [[0, 1]]], ["back", [[1, 0]]], ["both", [[0, 1], [1, 0]]]] as const) {
          const target = user(`eq-${callerRole}-${targetRole}-${kind}-${state}`, targetRole);
          targets.push(target);
          for (const [x, y] of pairs) links.add(JSON.stringify([[caller.id, target.id][x], [caller.id, target.id][y], kind]));
        }
      }
    }
    cases.push({ caller, targets });
  }
  const db = api.node.database.db;
  await db.insert(schema.users).values(users);
  const rows = [...links].map((l) => JSON.parse(l) as [string, string, string]);
  await db.insert(schema.relationships).values(rows.map(([userId, otherUserId, kind]) => ({ userId, otherUserId, kind })));
  const lookup = (from: string, to: string, kind: string) => Promise.resolve(links.has(JSON.stringify([from, to, kind])));
  for (const { caller, targets } of cases) {
    const sql = await api.node.services.users.contactableAmong({ ...caller, exp: 0 }, targets.map((t) => t.id));
    const engine = new Set<string>();
    for (const target of targets) if (await policy.mayContact(caller, target, lookup)) engine.add(target.id);
    expect([...sql].sort(), `${preset}: ${caller.role}`).toEqual([...engine].sort());
  }
}

describePreset("open", ({ api }) => {
  it("lets everyone talk to everyone and create groups", async () => {
    const [ada, bob] = [await api().register("user"), await api().register("user")];
    expect(await contact(api(), ada, bob)).toBe("allowed");
    expect(await contact(api(), ada, await provision(api(), "admin"))).toBe("allowed");
    expect((await api().request("POST", "/v1/conversations", { token: bob.token, body: { type: "group", title: "g", participant_ids: [ada.id] } })).status).toBe(201);
  });
});

describePreset("school", ({ api, service }) => {
  it("lets teachers talk with the students they teach and those students' parents (class links) and with colleagues, never students with students", async () => {
    const r = (role: string) => api().register(role);
    const teacher = await provision(api(), "teacher");
    const [pupil, parent, stranger] = [await r("student"), await r("parent"), await r("student")];
    expect(await contact(api(), teacher, pupil)).toBe("refused");
    expect(await contact(api(), parent, teacher)).toBe("refused");
    await link(api(), service(), teacher.id, pupil.id, "class");
    await link(api(), service(), teacher.id, parent.id, "class");
    expect(await contact(api(), teacher, pupil)).toBe("allowed");
    expect(await contact(api(), parent, teacher)).toBe("allowed");
    expect(await contact(api(), teacher, stranger)).toBe("refused");
    expect(await contact(api(), teacher, await provision(api(), "teacher"))).toBe("allowed");
    expect(await contact(api(), await r("student"), await r("student"))).toBe("refused");
    expect(await contact(api(), await r("parent"), await r("parent"))).toBe("refused");
    expect(await contact(api(), await provision(api(), "admin"), await r("student"))).toBe("allowed");
  });
  it("never lets anyone self-register as teacher or admin", async () => {
    for (const role of ["teacher", "admin"]) {
      const answer = await api().request("POST", "/v1/auth/register", { body: { username: `self-${role}`, password: "correct horse battery", display_name: role, role } });
      expect(answer).toMatchObject({ status: 403, body: { error: { code: "forbidden", field: "role" } } });
    }
  });
  it("lets a parent reach their own child only once a guardian link exists, from either side", async () => {
    const parent = await api().register("parent");
    const child = await api().register("student");
    const otherChild = await api().register("student");
    expect(await contact(api(), parent, child)).toBe("refused");
    expect(await contact(api(), child, parent)).toBe("refused");
    await link(api(), service(), parent.id, child.id, "guardian");
    expect(await contact(api(), child, parent)).toBe("allowed");
    expect(await contact(api(), parent, child)).toBe("allowed");
    expect(await contact(api(), parent, otherChild)).toBe("refused");
  });
  it("lets only teachers and admins create groups", async () => {
    const student = await api().register("student");
    const teacher = await provision(api(), "teacher");
    await link(api(), service(), teacher.id, student.id, "class");
    expect((await api().request("POST", "/v1/conversations", { token: student.token, body: { type: "group", title: "g", participant_ids: [teacher.id] } })).status).toBe(403);
    expect((await api().request("POST", "/v1/conversations", { token: teacher.token, body: { type: "group", title: "g", participant_ids: [student.id] } })).status).toBe(201);
  });
});

describePreset("salon", ({ api, service }) => {
  it("lets a client and a salon talk once the booking system links them", async () => {
    const [client, salon, otherSalon] = await Promise.all([api().register("client"), api().register("salon"), api().register("salon")]);
    expect(await contact(api(), client, salon)).toBe("refused");
    await link(api(), service(), client.id, salon.id, "client");
    expect(await contact(api(), salon, client)).toBe("allowed");
    expect(await contact(api(), client, otherSalon)).toBe("refused");
    expect(await contact(api(), salon, otherSalon)).toBe("allowed");
    expect(await contact(api(), client, await api().register("client"))).toBe("refused");
  });
  it("lets a salon build a group only of people it may contact", async () => {
    const salon = await api().register("salon");
    const linked = await api().register("client");
    const stranger = await api().register("client");
    await link(api(), service(), linked.id, salon.id, "client");
    const open = (ids: string[]) => api().request("POST", "/v1/conversations", { token: salon.token, body: { type: "group", title: "g", participant_ids: ids } });
    expect((await open([linked.id])).status).toBe(201);
    expect(await open([linked.id, stranger.id])).toMatchObject({ status: 403, body: { error: { code: "forbidden", field: "participant_ids" } } });
  });
});

describePreset("clinic", ({ api, service }) => {
  it("lets patients reach only the doctors they are in care with", async () => {
    const patient = await api().register("patient");
    const doctor = await provision(api(), "doctor");
    expect(await contact(api(), patient, doctor)).toBe("refused");
    await link(api(), service(), doctor.id, patient.id, "care");
    expect(await contact(api(), patient, doctor)).toBe("allowed");
    expect(await contact(api(), patient, await api().register("patient"))).toBe("refused");
    expect(await contact(api(), patient, await provision(api(), "admin"))).toBe("refused");
    expect(await contact(api(), doctor, await provision(api(), "doctor"))).toBe("allowed");
    expect(await contact(api(), await provision(api(), "admin"), patient)).toBe("refused");
  });
  it("checks every added member against the actor, but not for moderators", async () => {
    const doctor = await provision(api(), "doctor");
    const colleague = await provision(api(), "doctor");
    const patient = await api().register("patient");
    const group = await openConversation(api(), doctor.token, { type: "group", title: "ward", participant_ids: [colleague.id] });
    const add = (token: string) => api().request("POST", `/v1/conversations/${group.id}/participants`, { token, body: { user_ids: [patient.id] } });
    expect(await add(doctor.token)).toMatchObject({ status: 403, body: { error: { field: "user_ids" } } });
    expect((await add((await provision(api(), "admin")).token)).status).toBe(200);
    expect((await api().request("POST", "/v1/conversations", { token: patient.token, body: { type: "group", title: "g", participant_ids: [] } })).status).toBe(403);
  });
  it("lets a patient open support with the staff they may not otherwise contact", async () => {
    const admin = await provision(api(), "admin");
    const patient = await api().register("patient");
    const support = await openConversation(api(), patient.token, { type: "support", participant_ids: [admin.id] });
    expect(support.participants?.map((p) => p.user_id).sort()).toEqual([admin.id, patient.id].sort());
  });
});

describePreset("dating", ({ api, service }) => {
  it("lets members talk only after each liked the other", async () => {
    const [ann, ben] = await Promise.all([api().register("member"), api().register("member")]);
    expect(await contact(api(), ann, ben)).toBe("refused");
    await link(api(), service(), ann.id, ben.id, "like");
    expect(await contact(api(), ann, ben)).toBe("refused");
    expect(await contact(api(), ben, ann)).toBe("refused");
    await link(api(), service(), ben.id, ann.id, "like");
    expect(await contact(api(), ben, ann)).toBe("allowed");
    expect(await contact(api(), ann, ben)).toBe("allowed");
    expect((await api().request("POST", "/v1/conversations", { token: ann.token, body: { type: "group", title: "g", participant_ids: [ben.id] } })).status).toBe(403);
  });
});
