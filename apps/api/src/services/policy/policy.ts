import { readFileSync } from "node:fs";
import { policySchema, type ContactRule, type PolicyDefinition } from "./policy-schema";
import { POLICY_PRESETS, type PresetName } from "./presets";

/** The role of back-office integrations: acts through REST only, may act on behalf of anyone. */
export const SERVICE_ROLE = "service";

export interface PolicySubject {
  readonly id: string;
  readonly role: string;
}

/** What a contact check needs from storage: does a relationship row of `kind` link `from` to `to`? */
export type RelationshipLookup = (from: string, to: string, kind: string) => Promise<boolean>;

/** The rules that would let these two roles talk (in either order); empty when none. */
export interface ContactRequirement {
  /** True when some rule allows the pair with no relationship needed. */
  readonly unconditional: boolean;
  /** Otherwise, relationships of which one suffices. */
  readonly relationships: readonly { kind: string; mutual: boolean }[];
}

export class Policy {
  constructor(readonly definition: PolicyDefinition) {}

  get name(): string {
    return this.definition.name;
  }

  isKnownRole(role: string): boolean {
    return this.definition.roles.includes(role);
  }

  maySelfRegister(role: string): boolean {
    return this.definition.self_register_roles.includes(role);
  }

  /** The role a user provisioned from an external token gets. */
  provisionedRole(claimedRole: string): string {
    return this.isKnownRole(claimedRole) ? claimedRole : this.definition.default_role;
  }

  mayCreateGroup(role: string): boolean {
    return role === SERVICE_ROLE || this.definition.group_creators.some((r) => r === "*" || r === role);
  }

  isModerator(role: string): boolean {
    return role === SERVICE_ROLE || this.definition.moderators.includes(role);
  }

  /** What happens to a group member the owner may no longer contact. */
  get onContactLost(): "keep" | "remove" {
    return this.definition.on_contact_lost;
  }

  get hidesClosed(): boolean {
    return this.definition.hide_closed;
  }

  isSupportStaff(role: string): boolean {
    return this.definition.support_staff.includes(role);
  }

  get supportStaffRoles(): readonly string[] {
    return this.definition.support_staff;
  }

  /** Which rules would let a user of role `a` talk to a user of role `b`. */
  requirement(a: string, b: string): ContactRequirement {
    const rules = this.definition.contact.filter((rule) => matches(rule, a, b));
    return {
      unconditional: rules.some((rule) => rule.requires === undefined),
      relationships: rules.flatMap((rule) => (rule.requires ? [rule.requires] : [])),
    };
  }

  /** May `from` start a conversation with `to`? The service role may always; nobody contacts themself. */
  async mayContact(from: PolicySubject, to: PolicySubject, hasRelationship: RelationshipLookup): Promise<boolean> {
    if (from.id === to.id) return false;
    if (from.role === SERVICE_ROLE) return true;
    if (to.role === SERVICE_ROLE) return false;
    const requirement = this.requirement(from.role, to.role);
    if (requirement.unconditional) return true;
    for (const { kind, mutual } of requirement.relationships) {
      const forward = await hasRelationship(from.id, to.id, kind);
      const backward = forward && !mutual ? true : await hasRelationship(to.id, from.id, kind);
      if (mutual ? forward && backward : forward || backward) return true;
    }
    return false;
  }
}

function matches(rule: ContactRule, a: string, b: string): boolean {
  const [x, y] = rule.between;
  const fits = (pattern: string, role: string) => pattern === "*" || pattern === role;
  return (fits(x, a) && fits(y, b)) || (fits(x, b) && fits(y, a));
}

export class PolicyError extends Error {
  override readonly name = "PolicyError";
}

/** PARLEY_POLICY: a preset name, or a path to a JSON policy file. */
export function loadPolicy(spec: string): Policy {
  const preset = Object.hasOwn(POLICY_PRESETS, spec);
  if (!preset && !/[/\\.]/.test(spec)) {
    throw new PolicyError(`PARLEY_POLICY: unknown preset "${spec}" (presets: ${Object.keys(POLICY_PRESETS).join(", ")}; or a path to a JSON file)`);
  }
  const file = preset ? POLICY_PRESETS[spec as PresetName] : spec;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new PolicyError(`PARLEY_POLICY: cannot read policy file ${file}: ${(error as Error).message}`);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PolicyError(`PARLEY_POLICY: ${file}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return new Policy(parsed.data);
}
