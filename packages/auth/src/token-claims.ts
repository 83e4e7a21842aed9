import { role, text, userId } from "@parley/protocol";
import { z } from "zod";

/** The claims Parley reads from an access token (PROTOCOL.md "Tokens"); other claims are dropped. */
export const tokenClaimsSchema = z.object({
  /** The user id; an unknown one is provisioned on first use. */
  sub: userId,
  role,
  // Provisioning stores these: bounded like the profile fields a user could set themselves.
  name: text().trim().min(1).max(100).optional(),
  email: z.email().max(254).optional(),
  /** The identity provider vouches for `email`: only then does it count as confirmed. */
  email_verified: z.boolean().optional(),
  /** Needed for revocation: a token without jti cannot be revoked. */
  jti: text().min(1).max(200).optional(),
  exp: z.number(),
  iat: z.number().optional(),
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
});

export type TokenClaims = z.infer<typeof tokenClaimsSchema>;
