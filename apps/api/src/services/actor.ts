/** Who is calling: the verified token's subject, resolved to a user row (provisioned on first use). */
export interface Actor {
  readonly id: string;
  readonly role: string;
  /** The token id, for logout (absent on tokens that cannot be revoked). */
  readonly jti?: string;
  /** Token expiry, seconds since the epoch. */
  readonly exp: number;
}

