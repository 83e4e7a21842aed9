import fc from "fast-check";
import type { z } from "zod";

/** What a zod 4 schema exposes of its definition: enough to generate values that pass it. */
interface Def {
  readonly type: string;
  readonly [key: string]: unknown;
}
interface CheckDef {
  readonly check?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly value?: number;
  readonly inclusive?: boolean;
  readonly format?: string;
  readonly pattern?: RegExp;
}

function defOf(schema: unknown): Def {
  return (schema as { _zod: { def: Def } })._zod.def;
}

function checksOf(def: Def): CheckDef[] {
  const checks = (def.checks ?? []) as readonly { _zod: { def: CheckDef } }[];
  return checks.map((check) => check._zod.def);
}

function stringArbitrary(def: Def): fc.Arbitrary<string> {
  const checks = [def as CheckDef, ...checksOf(def)];
  let minLength = 0;
  let maxLength = 40;
  for (const check of checks) {
    if (check.check === "min_length" && check.minimum !== undefined) minLength = check.minimum;
    if (check.check === "max_length" && check.maximum !== undefined) maxLength = Math.min(check.maximum, 40);
  }
  maxLength = Math.max(maxLength, minLength);
  for (const check of checks) {
    if (check.format === "uuid" || check.format === "guid") return fc.uuid();
    if (check.format === "email") return fc.emailAddress().filter((e) => e.length <= 254);
    if (check.format === "url") return fc.webUrl({ validSchemes: ["https"] }).filter((u) => u.length <= 2048);
    if (check.format === "regex" && check.pattern !== undefined) {
      return fc.stringMatching(check.pattern).filter((s) => s.length >= minLength && s.length <= maxLength);
    }
  }
  return fc.string({ minLength, maxLength, unit: "grapheme" });
}

function numberArbitrary(def: Def): fc.Arbitrary<number> {
  let min = -1e6;
  let max = 1e6;
  let integer = false;
  for (const check of checksOf(def)) {
    if (check.check === "number_format") integer = check.format === "safeint" || check.format === "int32";
    if (check.check === "greater_than" && check.value !== undefined) min = check.value + (check.inclusive === true ? 0 : 1);
    if (check.check === "less_than" && check.value !== undefined) max = check.value - (check.inclusive === true ? 0 : 1);
  }
  return integer ? fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) : fc.double({ min, max, noNaN: true });
}

/**
 * Values that a protocol schema accepts, read from its zod definition (objects, strings with their bounds and
 * formats, numbers, enums, literals, arrays, unions, optionals and defaults). Refinements are not modelled, so a
 * value may still fail one; the property tests send it anyway and accept any documented answer.
 */
export function arbitraryOf(schema: z.ZodType): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  switch (def.type) {
    case "object": {
      const shape = def.shape as Record<string, z.ZodType>;
      const required: string[] = [];
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, value] of Object.entries(shape)) {
        record[key] = arbitraryOf(value);
        const inner = defOf(value).type;
        if (inner !== "optional" && inner !== "default") required.push(key);
      }
      return fc.record(record, { requiredKeys: required });
    }
    case "string":
      return stringArbitrary(def);
    case "number":
      return numberArbitrary(def);
    case "boolean":
      return fc.boolean();
    case "enum":
      return fc.constantFrom(...Object.values(def.entries as Record<string, string>));
    case "literal":
      return fc.constantFrom(...(def.values as unknown[]));
    case "array": {
      let maxLength = 5;
      let minLength = 0;
      for (const check of checksOf(def)) {
        if (check.check === "max_length" && check.maximum !== undefined) maxLength = Math.min(check.maximum, 5);
        if (check.check === "min_length" && check.minimum !== undefined) minLength = check.minimum;
      }
      return fc.array(arbitraryOf(def.element as z.ZodType), { minLength, maxLength: Math.max(minLength, maxLength) });
    }
    case "optional":
    case "default":
    case "prefault":
      return arbitraryOf(def.innerType as z.ZodType);
    case "nullable":
      return fc.option(arbitraryOf(def.innerType as z.ZodType), { nil: null });
    case "union":
      return fc.oneof(...(def.options as z.ZodType[]).map((option) => arbitraryOf(option)));
    case "pipe":
      // What the client sends is the pipe's input (e.g. the comma-separated user_ids string).
      return arbitraryOf(def.in as z.ZodType);
    case "transform":
      return fc.string({ maxLength: 20 });
    default:
      return fc.anything();
  }
}

/** Values that break things when a schema lets them through: NUL, numbers beyond storage, wrong types, deep nesting. */
export function hostileValue(): fc.Arbitrary<unknown> {
  let nested: unknown = "deep";
  for (let i = 0; i < 2_000; i++) nested = [nested];
  return fc.oneof(
    fc.constantFrom<unknown>(
      "\u0000",
      "a\u0000b",
      "\ud800",
      "%E0%A4%A",
      "9".repeat(400),
      "x".repeat(5_000),
      2 ** 31,
      2 ** 53 + 2,
      1e308,
      -1e308,
      -1,
      0.5,
      null,
      true,
      [],
      {},
      nested,
      { __proto__: { polluted: true } },
      "2147483648",
      "99999999999999999999-99999999999999999999",
      "1e308",
      "-1",
      "NaN",
    ),
    fc.string({ maxLength: 30, unit: "binary" }),
    fc.integer(),
    fc.double(),
    fc.anything({ maxDepth: 3 }),
  );
}

/** Every path to a value inside a JSON-like value (the root is the empty path). */
function pathsOf(value: unknown, prefix: readonly (string | number)[] = []): (string | number)[][] {
  const paths: (string | number)[][] = [[...prefix]];
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...pathsOf(item, [...prefix, index])));
  else if (typeof value === "object" && value !== null) for (const [key, item] of Object.entries(value)) paths.push(...pathsOf(item, [...prefix, key]));
  return paths;
}

function replaceAt(value: unknown, path: readonly (string | number)[], replacement: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return replacement;
  if (Array.isArray(value)) return (value as unknown[]).map((item, index) => (index === head ? replaceAt(item, rest, replacement) : item));
  if (typeof value === "object" && value !== null) return { ...value, [head]: replaceAt((value as Record<string, unknown>)[head], rest, replacement) };
  return value;
}

/** A valid value with one hostile mutation: a leaf replaced, an unknown key added, or a key dropped. */
export function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(valid, fc.nat(), hostileValue(), fc.constantFrom("replace", "replace", "add", "drop")).map(([value, pick, hostile, how]) => {
    const paths = pathsOf(value);
    const path = paths[pick % paths.length] ?? [];
    if (how === "replace" || typeof value !== "object" || value === null || Array.isArray(value)) return replaceAt(value, path, hostile);
    const entries = Object.entries(value as Record<string, unknown>);
    if (how === "add") return Object.fromEntries([...entries, [`unknown_${pick % 7}`, hostile]]);
    return Object.fromEntries(entries.filter((_entry, index) => entries.length === 0 || index !== pick % entries.length));
  });
}

/** Valid values and hostile mutations of them, half each. */
export function validOrHostile(schema: z.ZodType): fc.Arbitrary<unknown> {
  const valid = arbitraryOf(schema);
  return fc.oneof(valid, mutated(valid));
}
