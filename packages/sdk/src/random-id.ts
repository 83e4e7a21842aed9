/** A random UUID (or 128 random bits in hex where randomUUID is missing): the default client_msg_id. */
export function randomId(): string {
  const cryptoApi = globalThis.crypto as Crypto | undefined;
  if (typeof cryptoApi?.randomUUID === "function") return cryptoApi.randomUUID();
  // Insecure browser contexts (plain http on a LAN) lack randomUUID; 128 random bits do the same job.
  const bytes = new Uint8Array(16);
  if (cryptoApi !== undefined) cryptoApi.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
