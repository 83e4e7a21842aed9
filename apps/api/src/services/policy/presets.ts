import { fileURLToPath } from "node:url";

const presetFile = (name: string) => fileURLToPath(new URL(`../../../policies/${name}.json`, import.meta.url));

/**
 * Policies drawn from real deployments; PARLEY_POLICY names one of these or a JSON file. Each preset is a policy file
 * in apps/api/policies, in the format an operator writes their own in (and read by the same parser), so copying one
 * is the way to start a custom policy.
 */
export const POLICY_PRESETS = {
  open: presetFile("open"),
  school: presetFile("school"),
  salon: presetFile("salon"),
  clinic: presetFile("clinic"),
  dating: presetFile("dating"),
} as const;

export type PresetName = keyof typeof POLICY_PRESETS;
