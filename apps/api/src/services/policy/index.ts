export { loadPolicy, Policy, PolicyError, SERVICE_ROLE, type ContactRequirement, type PolicySubject, type RelationshipLookup } from "./policy";
export { policySchema, type PolicyDefinition } from "./policy-schema";
export { POLICY_PRESETS, type PresetName } from "./presets";
