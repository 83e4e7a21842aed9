import { afterAll, beforeAll } from "vitest";
import { ApiHarness, type RegisteredUser } from "./api-harness";
import { serviceToken } from "./conversation-fixtures";

// Live bindings, set by useApiPerFile before the file's tests run: read them inside tests and hooks only.
export let api: ApiHarness;
export let alice: RegisteredUser;
export let bob: RegisteredUser;
export let carol: RegisteredUser;
/** In none of the file's conversations unless a test adds them. */
export let outsider: RegisteredUser;
/** A service token (`booking-system`), for what only services may do. */
export let service: string;

export interface ApiPerFileOptions {
  readonly env?: Record<string, string>;
  /** Registers alice, bob, carol and outsider. */
  readonly people?: boolean;
  /** Issues `service`. */
  readonly service?: boolean;
}

/** Starts the API a test file runs against before its tests (with what `options` asks for) and stops it after them. */
export function useApiPerFile(options: ApiPerFileOptions = {}): void {
  beforeAll(async () => {
    api = await ApiHarness.start(options.env);
    if (options.people === true) {
      [alice, bob, carol, outsider] = await Promise.all([api.register("user"), api.register("user"), api.register("user"), api.register("user")]);
    }
    if (options.service === true) service = await serviceToken(api);
  });
  afterAll(async () => {
    await api.close();
  });
}
