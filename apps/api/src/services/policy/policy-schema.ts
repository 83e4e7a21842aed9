import { z } from "zod";

const roleName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lowercase word");
const roleOrAny = z.union([roleName, z.literal("*")]);
const retentionValue = z.string().regex(/^(off|\d+(\.\d+)?\s*(ms|s|m|h|d)?)$/, "must be off or a duration such as 30d");

/** A pair of roles that may talk, optionally only when a relationship row links the two people. */
const contactRule = z.strictObject({
  between: z.tuple([roleOrAny, roleOrAny]),
  requires: z
    .strictObject({
      kind: roleName,
      /** Both directions must exist (a "like" each way makes a match). */
      mutual: z.boolean().default(false),
    })
    .optional(),
});

/** A policy: which roles exist, who may message whom, who may create groups and manage members. */
export const policySchema = z
  .strictObject({
    name: z.string().min(1).max(64),
    description: z.string().max(500).default(""),
    roles: z.array(roleName).min(1),
    /** Roles anyone may pick at POST /v1/auth/register; others are provisioned by an admin, a service or an IdP. */
    self_register_roles: z.array(roleName),
    /** Role given to users provisioned from an external token whose role is not in `roles`. */
    default_role: roleName,
    contact: z.array(contactRule),
    /** Roles that may create group conversations. */
    group_creators: z.array(roleOrAny),
    /** Roles that act as staff in support conversations. */
    support_staff: z.array(roleName).default([]),
    /** Roles that may add or remove anyone in any group (besides the group's own owner/admins). */
    moderators: z.array(roleName).default([]),
    /**
     * A group member whom the group's owner may no longer contact (relationship gone, role changed, a block):
     * `keep` leaves them in, `remove` takes them out at once.
     */
    on_contact_lost: z.enum(["keep", "remove"]).default("keep"),
    /** Closed direct conversations leave the default list (still listed with ?closed=true, history readable). */
    hide_closed: z.boolean().default(false),
    /** MESSAGE_RETENTION per conversation type (read by the worker): a duration such as "30d", or "off". */
    retention: z
      .strictObject({
        direct: retentionValue.optional(),
        group: retentionValue.optional(),
        support: retentionValue.optional(),
      })
      .optional(),
  })
  .superRefine((policy, ctx) => {
    const known = new Set(policy.roles);
    const check = (role: string, path: (string | number)[]) => {
      if (role !== "*" && !known.has(role)) ctx.addIssue({ code: "custom", path, message: `unknown role "${role}"` });
    };
    policy.self_register_roles.forEach((role, i) => check(role, ["self_register_roles", i]));
    policy.contact.forEach((rule, i) => rule.between.forEach((role, j) => check(role, ["contact", i, "between", j])));
    policy.group_creators.forEach((role, i) => check(role, ["group_creators", i]));
    policy.support_staff.forEach((role, i) => check(role, ["support_staff", i]));
    policy.moderators.forEach((role, i) => check(role, ["moderators", i]));
    check(policy.default_role, ["default_role"]);
  });

export type PolicyDefinition = z.infer<typeof policySchema>;
export type ContactRule = PolicyDefinition["contact"][number];
