import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { apiEnv, commonEnv, databaseEnv, edgeEnv, workerEnv } from "@parley/config";
import { z } from "zod";
import { launcherEnv } from "./launcher-env";

/** Working local values for variables left unset (the apps' own defaults are for production). */
export function localDefaults(options: { apiPort: number; webUrl: string | undefined }): Record<string, string> {
  return {
    // The links in e-mails open the web app; without one, the API's address is the best there is.
    PUBLIC_APP_URL: options.webUrl ?? `http://localhost:${options.apiPort}`,
    API_URL: `http://127.0.0.1:${options.apiPort}`,
    EMAIL_DELAY: "2m",
    ARCHIVE_AFTER: "90d",
    ARCHIVE_CRON: "0 3 * * *",
    PARLEY_POLICY: "open",
    MAX_CONNECTIONS_PER_USER: "5",
    MESSAGE_RATE_LIMIT: "100",
    LOG_LEVEL: "info",
  };
}

/** Every variable some Parley node or the launcher reads: these, and only these, are printed at start. */
export const KNOWN_VARIABLES: readonly string[] = [
  ...new Set([
    ...Object.keys(commonEnv.shape),
    ...Object.keys(databaseEnv.shape),
    ...Object.keys(apiEnv.shape),
    ...Object.keys(edgeEnv.shape),
    ...Object.keys(workerEnv.shape),
    ...Object.keys(launcherEnv.shape),
  ]),
].sort();

const secretFile = z.string().trim().min(32);

/**
 * The HS256 secret of a local cluster: generated once and kept in `<dataDir>/jwt-secret`, so tokens stay valid
 * across restarts. Returns whether it was just generated.
 */
export async function localJwtSecret(dataDir: string): Promise<{ secret: string; file: string; generated: boolean }> {
  const file = path.join(dataDir, "jwt-secret");
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (text !== undefined) {
    const parsed = secretFile.safeParse(text);
    if (!parsed.success) throw new Error(`${file} must hold a secret of at least 32 characters; delete it to get a new one`);
    return { secret: parsed.data, file, generated: false };
  }
  const secret = randomBytes(36).toString("base64url"); // 48 characters
  await mkdir(dataDir, { recursive: true });
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    // Another launcher wrote it first: use that one.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return localJwtSecret(dataDir);
    throw error;
  }
  return { secret, file, generated: true };
}
