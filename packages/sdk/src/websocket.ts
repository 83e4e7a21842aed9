/**
 * The part of the WebSocket API the client uses: the browser's `WebSocket` and Node's `ws` both fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // The parameters are `never` so any library's event types fit; the client reads them as the shapes below.
  onopen: ((event: never) => unknown) | null;
  onmessage: ((event: never) => unknown) | null;
  onclose: ((event: never) => unknown) | null;
  onerror: ((event: never) => unknown) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** The global WebSocket (browsers, Node 22+), if there is one. */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

export const OPEN = 1;

export interface MessageEventLike {
  readonly data: unknown;
}
export interface CloseEventLike {
  readonly code: number;
  readonly reason: unknown;
}
