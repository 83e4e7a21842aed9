import { ERRORS, errorBody, isErrorCode, type ErrorCode } from "@parley/protocol";
import type { InternalOp } from "@parley/protocol/internal";
import type { Logger } from "@parley/observability";
import type { Identity } from "./connection";

/** An API refusal (or a transport failure) in the shape of an `error` frame. */
export interface ApiError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly retry_after_ms?: number;
}

/** The answer when the API could not be reached (whichever way the edge asked): 503 unavailable, to retry. */
export const API_UNAVAILABLE = { ok: false, status: ERRORS.unavailable.status, error: { code: "unavailable", message: "The API did not answer; retry later." } } as const satisfies ApiAnswer;

export type ApiAnswer = { readonly ok: true; readonly status: number; readonly body: unknown } | { readonly ok: false; readonly status: number; readonly error: ApiError };

export interface ApiRequest {
  readonly token: string;
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number>>;
  /** The client's address, forwarded for the API's per-address limits and logs. */
  readonly clientIp?: string | undefined;
}

/** Who a command is for: a user this edge verified, and the client's address. */
export interface ApiCaller {
  readonly identity: Identity;
  readonly clientIp: string | undefined;
}

/** The id in the route's path, and the route's body (or query, for reads). */
export interface ApiCall {
  readonly target?: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

/** How the edge reaches the API: the internal channel when configured, else REST with each user's token. */
export interface ApiGateway {
  call(op: InternalOp, caller: ApiCaller, call?: ApiCall): Promise<ApiAnswer>;
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";
const at = (template: string) => (target: string) => template.replace(":id", encodeURIComponent(target));

/** The REST route of each operation: the internal channel answers exactly what these answer. */
const ROUTES: Record<InternalOp, { readonly method: Method; readonly path: (target: string) => string }> = {
  me: { method: "GET", path: () => "/v1/users/me" },
  provision: { method: "GET", path: () => "/v1/users/me" },
  get_conversation: { method: "GET", path: at("/v1/conversations/:id") },
  history: { method: "GET", path: at("/v1/conversations/:id/messages") },
  send_message: { method: "POST", path: at("/v1/conversations/:id/messages") },
  edit_message: { method: "PATCH", path: at("/v1/messages/:id") },
  delete_message: { method: "DELETE", path: at("/v1/messages/:id") },
  mark_read: { method: "POST", path: at("/v1/conversations/:id/read") },
  mark_delivered: { method: "POST", path: at("/v1/conversations/:id/delivered") },
  presence: { method: "GET", path: () => "/v1/presence" },
  blocks: { method: "GET", path: () => "/v1/blocks" },
};

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly logger: Logger;
  /** Deadline of one request; 10 s unless given. */
  readonly timeoutMs?: number;
}

/** When the API's error body does not name a protocol code, the status decides: the first code of the one table with it. */
function codeForStatus(status: number): ErrorCode {
  if (status >= 500) return "unavailable";
  const codes = Object.keys(ERRORS) as ErrorCode[];
  return codes.find((code) => ERRORS[code].status === status) ?? "invalid_request";
}

/**
 * Calls the API (the only writer) on behalf of a user, with that user's own token, over Node's fetch
 * (undici keeps connections alive). Never throws: transport failures come back as `unavailable`.
 */
export class ApiClient implements ApiGateway {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** One operation as a REST request with the user's own token (the API verifies it again and applies its limits). */
  call(op: InternalOp, caller: ApiCaller, call: ApiCall = {}): Promise<ApiAnswer> {
    const route = ROUTES[op];
    const request = { token: caller.identity.token, clientIp: caller.clientIp };
    const path = route.path(call.target ?? "");
    if (call.args === undefined) return this.request(route.method, path, request);
    if (route.method === "GET") {
      const query: Record<string, string | number> = {};
      for (const [name, value] of Object.entries(call.args)) if (typeof value === "string" || typeof value === "number") query[name] = value;
      return this.request(route.method, path, { ...request, query });
    }
    return this.request(route.method, path, { ...request, body: call.args });
  }

  async request(method: Method, path: string, request: ApiRequest): Promise<ApiAnswer> {
    const url = new URL(`${this.baseUrl}${path}`);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { authorization: `Bearer ${request.token}`, accept: "application/json" };
    if (request.clientIp !== undefined) headers["x-forwarded-for"] = request.clientIp;
    let body: string | undefined;
    if (request.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(request.body);
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, signal: AbortSignal.timeout(this.timeoutMs), ...(body === undefined ? {} : { body }) });
      text = await response.text();
    } catch (error) {
      this.options.logger.warn({ err: error, method, path }, "API request failed");
      return API_UNAVAILABLE;
    }
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) return { ok: true, status: response.status, body: parsed };
    return { ok: false, status: response.status, error: toApiError(response.status, parsed) };
  }
}

export function toApiError(status: number, body: unknown): ApiError {
  const parsed = errorBody.safeParse(body);
  if (!parsed.success) return { code: codeForStatus(status), message: `The API answered ${status}.` };
  const { code, message, field, retry_after_ms } = parsed.data.error;
  return {
    code: isErrorCode(code) ? code : codeForStatus(status),
    message,
    ...(field === undefined ? {} : { field }),
    ...(retry_after_ms === undefined ? {} : { retry_after_ms }),
  };
}
