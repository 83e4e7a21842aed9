/**
 * The policy's rules on their own: no database, no server (the fast tier). Which pairs may talk under each preset, with
 * and without the relationship rows the preset asks for, and the presets table of docs/POLICIES.md against the
 * presets themselves. The same rules against real services: policy.test.ts, contact-rules.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadPolicy, PolicyError, SERVICE_ROLE, type Policy, type PresetName, type RelationshipLookup } from "../src/services/policy";
import { POLICY_PRESETS } from "../src/services/policy/presets";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Relationship rows as `from>to:kind`, the way a contact check asks for them. */
function links(...rows: string[]): RelationshipLookup {
  const set = new Set(rows);
  return (from, to, kind) => Promise.resolve(set.has(`${from}>${to}:${kind}`));
}

const person = (id: string, role: string) => ({ id, role });

async function may(policy: Policy, a: { id: string; role: string }, b: { id: string; role: string }, lookup: RelationshipLookup): Promise<[boolean, boolean]> {
  return [await policy.mayContact(a, b, lookup), await policy.mayContact(b, a, lookup)];
}

/** Two people as `id:role ~ id:role`, the relationship rows there are, and whether the two may talk (asked both ways). */
type ContactCase = readonly [pair: string, rows: readonly string[], talk: boolean];

const CONTACT_RULES: readonly { preset: PresetName; rule: string; cases: readonly ContactCase[] }[] = [
  {
    preset: "school",
    rule: "a teacher reaches a student or a parent only through a class link (either direction); students never reach students",
    cases: [
      ["t:teacher ~ s:student", [], false],
      ["t:teacher ~ s:student", ["t>s:class"], true],
      ["t:teacher ~ s:student", ["s>t:class"], true],
      // A link of another kind does not count.
      ["t:teacher ~ s:student", ["t>s:guardian"], false],
      ["t:teacher ~ p:parent", ["t>p:class"], true],
      ["p:parent ~ s:student", ["p>s:guardian"], true],
      ["s:student ~ s2:student", ["s>s2:class", "s2>s:class", "s>s2:guardian"], false],
      ["p:parent ~ p2:parent", ["p>p2:guardian"], false],
      ["t:teacher ~ t2:teacher", [], true],
      ["a:admin ~ s2:student", [], true],
    ],
  },
  {
    preset: "clinic",
    rule: "patients reach only doctors they have a care link with; admins reach doctors and admins, not patients",
    cases: [
      ["p:patient ~ d:doctor", [], false],
      ["p:patient ~ d:doctor", ["d>p:care"], true],
      ["p:patient ~ p2:patient", ["p>p2:care", "p2>p:care"], false],
      ["a:admin ~ d:doctor", [], true],
      ["a:admin ~ p:patient", [], false],
    ],
  },
  {
    preset: "dating",
    rule: "only a mutual like (a match) lets two members talk",
    cases: [
      ["a:member ~ b:member", ["a>b:like"], false],
      ["a:member ~ b:member", ["b>a:like"], false],
      ["a:member ~ b:member", ["a>b:like", "b>a:like"], true],
    ],
  },
  {
    preset: "salon",
    rule: "a client and a salon need a client link; salons talk among themselves",
    cases: [
      ["c:client ~ s:salon", [], false],
      ["c:client ~ s:salon", ["s>c:client"], true],
      ["s:salon ~ s2:salon", [], true],
      ["c:client ~ c2:client", ["c>c2:client"], false],
    ],
  },
];

/** `id:role` as the person a contact check asks about. */
function parsePerson(text: string): { id: string; role: string } {
  const [id = "", role = ""] = text.split(":");
  return person(id, role);
}

describe("contact rules of the presets", () => {
  it.each(CONTACT_RULES)("$preset: $rule", async ({ preset, cases }) => {
    const policy = loadPolicy(preset);
    for (const [pair, rows, talk] of cases) {
      const [a = "", b = ""] = pair.split(" ~ ");
      expect(await may(policy, parsePerson(a), parsePerson(b), links(...rows)), `${pair} with [${rows.join(", ")}]`).toEqual([talk, talk]);
    }
  });

  it.each(Object.keys(POLICY_PRESETS) as PresetName[])("%s: nobody contacts themself or a service; a service contacts anyone", async (name) => {
    const policy = loadPolicy(name);
    const everyone = links();
    for (const role of policy.definition.roles) {
      expect(await policy.mayContact(person("x", role), person("x", role), everyone), role).toBe(false);
      expect(await policy.mayContact(person("x", role), person("svc", SERVICE_ROLE), everyone), role).toBe(role === SERVICE_ROLE);
      expect(await policy.mayContact(person("svc", SERVICE_ROLE), person("x", role), everyone), role).toBe(true);
    }
    // A token whose role the policy does not know gets the default role, which anyone may pick.
    expect(policy.provisionedRole("no-such-role")).toBe(policy.definition.default_role);
    expect(policy.maySelfRegister(policy.definition.default_role)).toBe(true);
  });
});

/** The presets table of docs/POLICIES.md, one row per preset: the columns this test can compare with the code. */
function documentedPresets(): Map<string, { selfRegister: string[]; provisioned: string[]; groups: string; onContactLost: string; closed: string }> {
  const text = readFileSync(path.join(ROOT, "docs/POLICIES.md"), "utf8");
  const section = text.slice(text.indexOf("## Presets: who may talk"));
  const rows = section.split("\n").filter((line) => /^\| `\w+` \|/.test(line));
  const cells = (line: string) => line.split("|").slice(1, -1).map((cell) => cell.trim().replaceAll("*", ""));
  const list = (cell: string) => cell.split(",").map((part) => part.trim()).filter(Boolean).sort();
  return new Map(
    rows.map((line) => {
      const [name = "", selfRegister = "", provisioned = "", , groups = "", onContactLost = "", closed = ""] = cells(line);
      return [name.replaceAll("`", ""), { selfRegister: list(selfRegister), provisioned: list(provisioned), groups, onContactLost, closed }];
    }),
  );
}

describe("docs/POLICIES.md presets table", () => {
  const documented = documentedPresets();

  it("has one row per preset", () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(POLICY_PRESETS).sort());
  });

  it.each(Object.keys(POLICY_PRESETS) as PresetName[])("%s: self-registration, provisioned roles, on_contact_lost and closed lists as the preset has them", (name) => {
    const row = documented.get(name);
    const { definition } = loadPolicy(name);
    expect(row, name).toBeDefined();
    if (!row) return;
    const people = definition.roles.filter((role) => role !== SERVICE_ROLE);
    expect(row.selfRegister).toEqual([...definition.self_register_roles].sort());
    expect(row.provisioned).toEqual(people.filter((role) => !definition.self_register_roles.includes(role)).sort());
    expect(row.onContactLost).toBe(definition.on_contact_lost);
    expect(row.closed).toBe(definition.hide_closed ? "hidden" : "shown");
    expect(row.groups === "anyone").toBe(definition.group_creators.includes("*"));
  });
});

describe("loading a policy", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "parley-policy-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the presets when a name is unknown", () => {
    expect(() => loadPolicy("schools")).toThrow(PolicyError);
    expect(() => loadPolicy("schools")).toThrow(/presets: open, school, salon, clinic, dating/);
  });

  it("reads a JSON file, with the schema's defaults", () => {
    const file = path.join(dir, "custom.json");
    writeFileSync(file, JSON.stringify({ name: "custom", roles: ["agent", "customer"], self_register_roles: ["customer"], default_role: "customer", contact: [{ between: ["agent", "customer"] }], group_creators: ["agent"] }));
    const policy = loadPolicy(file);
    expect(policy.name).toBe("custom");
    expect(policy.onContactLost).toBe("keep");
    expect(policy.hidesClosed).toBe(false);
  });

  it("refuses an unreadable or invalid file with the path and the first problem, never a stack of zod internals", () => {
    expect(() => loadPolicy(path.join(dir, "missing.json"))).toThrow(/cannot read policy file .*missing\.json/);
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "bad", roles: ["a"], self_register_roles: ["a"], default_role: "a", contact: [], group_creators: [], on_contact_lost: "archive" }));
    expect(() => loadPolicy(bad)).toThrow(/bad\.json: on_contact_lost: /);
  });
});
