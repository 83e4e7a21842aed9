import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientAddressResolver } from "../src";

function request(peer: string, forwardedFor?: string): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }, connection: { remoteAddress: peer } } as unknown as IncomingMessage;
}

describe("the client address from a chain of proxies", () => {
  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    // A client on a private network reaching the node directly cannot pick the address its limits count.
    expect(clientAddressResolver("loopback")(request("10.1.2.3", "203.0.113.9"))).toBe("10.1.2.3");
    expect(clientAddressResolver(false)(request("127.0.0.1", "203.0.113.9"))).toBe("127.0.0.1");
  });

  it("believes a trusted proxy, and walks the chain only through trusted hops", () => {
    expect(clientAddressResolver("loopback")(request("127.0.0.1", "203.0.113.9"))).toBe("203.0.113.9");
    const resolve = clientAddressResolver("10.0.0.0/8");
    expect(resolve(request("10.0.0.2", "203.0.113.9, 10.0.0.7"))).toBe("203.0.113.9");
    // A forged first entry stays behind an untrusted hop: the untrusted hop is the client.
    expect(resolve(request("10.0.0.2", "6.6.6.6, 198.51.100.4"))).toBe("198.51.100.4");
  });

  it("takes a hop count", () => {
    expect(clientAddressResolver(1)(request("10.0.0.2", "198.51.100.1, 203.0.113.5"))).toBe("203.0.113.5");
  });
});
