import { errorBody, restRoutes, type HttpMethod, type RestOperation, type RestRoute } from "@parley/protocol";
import type { z } from "zod";
import { errorCodeOf, ParleyProtocolError, ParleyRequestError } from "./errors";

type Routes = typeof restRoutes;

/** The `:name` parameters of a path template. */
type PathParams<P extends string> = P extends `${string}:${infer Param}/${infer Rest}`
  ? Param | PathParams<`/${Rest}`>
  : P extends `${string}:${infer Param}`
    ? Param
    : never;

type ParamsPart<K extends RestOperation> = [PathParams<Routes[K]["path"]>] extends [never] ? unknown : { params: Record<PathParams<Routes[K]["path"]>, string> };
type BodyPart<K extends RestOperation> = Routes[K] extends { body: infer B extends z.ZodType } ? { body: z.input<B> } : unknown;
type QueryPart<K extends RestOperation> = Routes[K] extends { query: infer Q extends z.ZodObject } ? { query?: { [P in keyof z.input<Q>]?: string | number | boolean | undefined } } : unknown;

/** What one REST operation takes: its path parameters, body and query, typed from the protocol's schemas. */
export type RestRequest<K extends RestOperation> = ParamsPart<K> & BodyPart<K> & QueryPart<K>;
/** What one REST operation answers (void for 204). */
export type RestResponse<K extends RestOperation> = Routes[K] extends { response: infer R extends z.ZodType } ? z.output<R> : undefined;

/** One method per operation of docs/PROTOCOL.md, named by its operationId (`rest.getConversation({params: {id}})`). */
export type RestMethods = { readonly [K in RestOperation]: (...args: object extends RestRequest<K> ? [request?: RestRequest<K>] : [request: RestRequest<K>]) => Promise<RestResponse<K>> };

export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface RestClientOptions {
  /** The API's base URL, e.g. `https://chat.example.com` (`/v1/...` is appended). */
  readonly baseUrl: string;
  /** The access token for authenticated calls; undefined when there is none yet (register, login). */
  readonly token?: (() => string | undefined | Promise<string | undefined>) | undefined;
  /** Called once after a 401 to get a fresh token before the single retry; undefined: no retry. */
  readonly onUnauthorized?: (() => Promise<string | undefined>) | undefined;
  /** `fetch` (the global one unless given). */
  readonly fetch?: FetchLike | undefined;
}

/** Typed REST helpers: every endpoint, request checked by the type system, answer parsed with the same zod schema. */
export class RestClient {
  readonly api: RestMethods;
  private readonly baseUrl: string;

  constructor(private readonly options: RestClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const api: Record<string, (request?: unknown) => Promise<unknown>> = {};
    for (const name of Object.keys(restRoutes) as RestOperation[]) {
      api[name] = (request?: unknown) => this.call(name, (request ?? {}) as RestRequest<typeof name>);
    }
    this.api = api as unknown as RestMethods;
  }

  /**
   * Any endpoint under /v1 by method and path (for endpoints newer than this SDK): the parsed JSON answer (undefined
   * for 204), errors as ParleyRequestError like the typed helpers.
   */
  async request(method: HttpMethod, path: string, request: RawRequest = {}): Promise<unknown> {
    const response = await this.exchange(method, path, request.auth !== false, request.body, request.query ?? {});
    const text = await response.text();
    if (response.status === 204 || text.length === 0) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ParleyProtocolError(`${method.toUpperCase()} ${path}: the answer is not JSON (HTTP ${response.status})`);
    }
  }

  /** One HTTP exchange: the token (refreshed once after a 401), and any error status thrown as ParleyRequestError. */
  private async exchange(method: HttpMethod, path: string, auth: boolean, body: unknown, query: Readonly<Record<string, unknown>>) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") search.set(key, String(value));
    }
    const url = `${this.baseUrl}/v1${path}${search.size > 0 ? `?${search.toString()}` : ""}`;
    const send = async (token: string | undefined) => {
      const headers: Record<string, string> = { accept: "application/json" };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const fetchImpl = this.options.fetch ?? globalThis.fetch;
      return fetchImpl(url, { method: method.toUpperCase(), headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    };
    let response = await send(auth ? await this.options.token?.() : undefined);
    if (response.status === 401 && auth && this.options.onUnauthorized !== undefined) {
      response = await send(await this.options.onUnauthorized());
    }
    if (response.status >= 400) throw requestError(response.status, await response.text(), response.headers.get("retry-after"));
    return response;
  }

  /** Calls one operation by its operationId. */
  async call<K extends RestOperation>(operation: K, request: RestRequest<K>): Promise<RestResponse<K>> {
    const route: RestRoute = restRoutes[operation];
    const parts = request as { params?: Record<string, string>; body?: unknown; query?: Record<string, unknown> };
    const path = route.path.replace(/:(\w+)/g, (_match, name: string) => {
      const value = parts.params?.[name];
      if (value === undefined) throw new TypeError(`${operation}: missing path parameter ${name}`);
      return encodeURIComponent(value);
    });
    const response = await this.exchange(route.method, path, route.auth !== false, parts.body, parts.query ?? {});
    const text = await response.text();
    if (route.response === undefined) return undefined as RestResponse<K>;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ParleyProtocolError(`${operation}: the answer is not JSON (HTTP ${response.status})`);
    }
    const parsed = route.response.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ParleyProtocolError(`${operation}: unexpected answer at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`);
    }
    return parsed.data as RestResponse<K>;
  }
}

export interface RawRequest {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Send the token (default true). */
  readonly auth?: boolean;
}

export function requestError(status: number, text: string, retryAfter: string | null): ParleyRequestError {
  let body: z.infer<typeof errorBody> | undefined;
  try {
    const parsed = errorBody.safeParse(JSON.parse(text));
    if (parsed.success) body = parsed.data;
  } catch {
    // Not JSON (a proxy's error page): the status decides.
  }
  const retryAfterMs = body?.error.retry_after_ms ?? (retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined);
  return new ParleyRequestError(errorCodeOf(body?.error.code, status), body?.error.message ?? `HTTP ${status}`, status, body?.error.field, retryAfterMs);
}
