export interface JsonRequest {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Sent as JSON, or as it is when a string. */
  readonly body?: unknown;
  /** More request headers; `content-type` here replaces the JSON one. */
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

export interface JsonAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The body parsed as JSON; undefined when empty, the text itself when it is not JSON (an error page). */
  readonly body: unknown;
}

/** One HTTP request to a JSON API, answered with its status, headers and parsed body. */
export async function requestJson(method: string, url: string | URL, request: JsonRequest = {}): Promise<JsonAnswer> {
  const headers: Record<string, string> = { ...request.headers };
  if (request.token !== undefined) headers.authorization = `Bearer ${request.token}`;
  let body: string | undefined;
  if (request.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
  }
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }), ...(request.signal ? { signal: request.signal } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    // not JSON: kept as text, for the failure message
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
