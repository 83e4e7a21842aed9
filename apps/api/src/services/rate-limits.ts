// Moved to repositories/rate-limits.ts; this re-export keeps message-service.ts's import until it points there.
export type { RateLimits } from "../repositories/rate-limits";
