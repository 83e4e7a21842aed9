import proxyAddr from "proxy-addr";
import type { IncomingMessage } from "node:http";

/** A parsed TRUST_PROXY setting (see schemas.ts). */
export type TrustProxySetting = boolean | number | string;

/**
 * The client's address from a request, believing X-Forwarded-For only as far as the chain of trusted proxies
 * reaches (Express's "trust proxy" rules): an untrusted peer's header is ignored, so it cannot pick the address
 * that per-address limits count. One rule for the edge's handshakes and the API's requests.
 */
export function clientAddressResolver(setting: TrustProxySetting): (request: IncomingMessage) => string {
  const trust = compile(setting);
  return (request) => {
    if (request.socket.remoteAddress === undefined) return "unknown";
    return proxyAddr(request, trust);
  };
}

function compile(setting: TrustProxySetting): (address: string, hop: number) => boolean {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  if (typeof setting === "number") return (_address, hop) => hop < setting;
  return proxyAddr.compile(setting.split(",").map((part) => part.trim()).filter(Boolean));
}
