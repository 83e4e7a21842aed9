import type { AccountService } from "./account-service";
import type { RateLimits } from "./rate-limits";

/** Every domain service of the API node, built once by api-node.ts; routers receive what they need. */
export interface ApiServices {
  readonly accounts: AccountService;
  readonly limits: RateLimits;
}
