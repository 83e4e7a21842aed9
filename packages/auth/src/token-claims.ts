import { role } from "@parley/protocol";
import { z } from "zod";

/** The claims Parley reads from an access token (PROTOCOL.md "Tokens"); other claims are dropped. */
export const tokenClaimsSchema = z.object({
  /** The user id; an unknown one is provisioned on first use. */
  sub: z.string().min(1),
  role,
  name: z.string().optional(),
  email: z.string().optional(),
  /** Needed for revocation: a token without jti cannot be revoked. */
  jti: z.string().min(1).optional(),
  exp: z.number(),
  iat: z.number().optional(),
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
