import type { z } from "zod";
import type { policySchema } from "./policy-schema";

type PolicyInput = z.input<typeof policySchema>;

/** Policies drawn from real deployments; PARLEY_POLICY names one of these or a JSON file. */
export const POLICY_PRESETS = {
  open: {
    name: "open",
    description: "Everyone may talk to everyone and create groups.",
    roles: ["user", "admin", "service"],
    self_register_roles: ["user"],
    default_role: "user",
    contact: [{ between: ["*", "*"] }],
    group_creators: ["*"],
    support_staff: ["admin"],
    moderators: ["admin"],
    on_contact_lost: "keep",
  },
  school: {
    name: "school",
    description:
      "Teachers (provisioned) talk with the students they teach and those students' guardians (class links), and with colleagues; parents with their own children; students never with each other; only teachers and admins create groups.",
    roles: ["student", "parent", "teacher", "admin", "service"],
    self_register_roles: ["student", "parent"],
    default_role: "student",
    contact: [
      { between: ["teacher", "student"], requires: { kind: "class" } },
      { between: ["teacher", "parent"], requires: { kind: "class" } },
      { between: ["teacher", "teacher"] },
      { between: ["admin", "*"] },
      { between: ["parent", "student"], requires: { kind: "guardian" } },
    ],
    group_creators: ["teacher", "admin"],
    support_staff: ["admin"],
    moderators: ["admin"],
    on_contact_lost: "remove",
  },
  salon: {
    name: "salon",
    description: "Clients write to salons; a salon writes to its own clients (a booking integration links them and opens the conversation).",
    roles: ["client", "salon", "admin", "service"],
    self_register_roles: ["client", "salon"],
    default_role: "client",
    contact: [
      { between: ["client", "salon"], requires: { kind: "client" } },
      { between: ["salon", "salon"] },
      { between: ["admin", "*"] },
    ],
    group_creators: ["salon", "admin"],
    support_staff: ["admin"],
    moderators: ["admin"],
    on_contact_lost: "keep",
  },
  clinic: {
    name: "clinic",
    description: "Patients talk only with the doctors they are linked to (care links); doctors are provisioned, never self-registered, and talk with each other.",
    roles: ["patient", "doctor", "admin", "service"],
    self_register_roles: ["patient"],
    default_role: "patient",
    contact: [
      { between: ["patient", "doctor"], requires: { kind: "care" } },
      { between: ["doctor", "doctor"] },
      { between: ["admin", "doctor"] },
      { between: ["admin", "admin"] },
    ],
    group_creators: ["doctor", "admin"],
    support_staff: ["admin"],
    moderators: ["admin"],
    on_contact_lost: "remove",
    hide_closed: false,
  },
  dating: {
    name: "dating",
    description: "Members talk only with mutual matches (each liked the other).",
    roles: ["member", "admin", "service"],
    self_register_roles: ["member"],
    default_role: "member",
    contact: [{ between: ["member", "member"], requires: { kind: "like", mutual: true } }, { between: ["admin", "*"] }],
    group_creators: ["admin"],
    support_staff: ["admin"],
    moderators: ["admin"],
    on_contact_lost: "remove",
    hide_closed: true,
  },
} as const satisfies Record<string, PolicyInput>;

export type PresetName = keyof typeof POLICY_PRESETS;
