import { performance } from "node:perf_hooks";

export interface TimedResponse {
  readonly status: number;
  readonly body: unknown;
  /** Client-side latency: request start to the last byte of the body, in ms. */
  readonly ms: number;
}

/** A minimal JSON client over fetch (undici keeps connections alive, as a real client pool would). */
export class JsonClient {
  constructor(private readonly baseUrl: string) {}

  async request(method: string, path: string, token?: string, body?: unknown): Promise<TimedResponse> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const started = performance.now();
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown), ms };
  }

  /** Like request, but throws unless the status is one of `expected`. */
  async expect(expected: readonly number[], method: string, path: string, token?: string, body?: unknown): Promise<TimedResponse> {
    const response = await this.request(method, path, token, body);
    if (!expected.includes(response.status)) {
      throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
    }
    return response;
  }
}
