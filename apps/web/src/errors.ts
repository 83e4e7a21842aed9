import { ParleyRequestError } from "@parley/sdk";

/** A sentence for the person in front of the screen, from whatever a call threw. */
export function describeError(error: unknown): string {
  if (error instanceof ParleyRequestError) {
    switch (error.code) {
      case "invalid_credentials":
        return "Wrong username or password.";
      case "username_taken":
        return "That username is taken.";
      case "rate_limited":
        return "Too many attempts; wait a moment and try again.";
      case "forbidden":
        return error.field === "role" ? "That role cannot be chosen when signing up here." : "You are not allowed to do that.";
      case "not_found":
        return "Not found (or not visible to you).";
      case "unavailable":
        return "The server is unavailable; try again shortly.";
      default:
        return error.field === undefined ? error.message : `${error.field}: ${error.message}`;
    }
  }
  if (error instanceof TypeError) return "Cannot reach the server.";
  return error instanceof Error ? error.message : String(error);
}
