import { RESOLVED_SERVICES_ENV, resolveServices, stopServices } from "./services";

/**
 * vitest globalSetup (vitest.shared.ts): resolves Postgres and Redis once for the run, starting testcontainers
 * only when no URL is given and a Docker engine answers, hands them to every test file, and stops them at the end.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const services = await resolveServices();
  // Test files run in child processes forked after this, with this process's environment.
  process.env[RESOLVED_SERVICES_ENV] = JSON.stringify(services);
  return async () => {
    process.env[RESOLVED_SERVICES_ENV] = "";
    await stopServices();
  };
}
