import { ERRORS, errorBody, isErrorCode, type ErrorCode } from "@parley/protocol";
import type { Logger } from "@parley/observability";

/** An API refusal (or a transport failure) in the shape of an `error` frame. */
export interface ApiError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly retry_after_ms?: number;
}

export type ApiAnswer = { readonly ok: true; readonly status: number; readonly body: unknown } | { readonly ok: false; readonly status: number; readonly error: ApiError };

export interface ApiRequest {
  readonly token: string;
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number>>;
  /** The client's address, forwarded for the API's per-address limits and logs. */
  readonly clientIp?: string | undefined;
}

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
export class ApiClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async request(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, request: ApiRequest): Promise<ApiAnswer> {
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
      return { ok: false, status: 503, error: { code: "unavailable", message: "The API did not answer; retry later." } };
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

function toApiError(status: number, body: unknown): ApiError {
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
