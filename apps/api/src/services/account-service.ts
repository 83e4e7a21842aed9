import { hash, verify } from "@node-rs/argon2";
import type { RevocationStore, TokenClaims, TokenIssuer, TokenVerifier } from "@parley/auth";
import { ParleyError, type AuthResponse, type LoginBody, type Me, type RegisterBody, type UpdateMeBody } from "@parley/protocol";
import { createHash, randomBytes } from "node:crypto";
import { isUniqueViolation, type UserRepository, type UserRow } from "../repositories/user-repository";
import type { Actor } from "./actor";
import type { EmailConfirmationService } from "./email-confirmation-service";
import { SERVICE_ROLE, type Policy } from "./policy";
import type { RateLimits } from "../repositories/rate-limits";
import { toMe } from "./user-view";

// argon2id with OWASP's minimum memory-hard parameters (19 MiB, 2 passes).
const HASH_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
// Verified against when the username is unknown, so timing does not reveal which usernames exist.
const DUMMY_HASH = hash("parley-dummy-password", HASH_OPTIONS);

export interface AccountServiceDeps {
  readonly users: UserRepository;
  readonly policy: Policy;
  readonly issuer: TokenIssuer | undefined;
  readonly verifier: TokenVerifier;
  readonly revocations: RevocationStore;
  readonly limits: RateLimits;
  readonly confirmations: EmailConfirmationService;
  readonly newId: () => string;
  /** How long this node trusts a subject's id and role without reading its row again; 5 s unless given. */
  readonly subjectCacheMs?: number;
  /** Milliseconds since the epoch, for the subject cache; Date.now unless given. */
  readonly now?: () => number;
}

/** What authentication needs of a user row. */
interface Subject {
  readonly id: string;
  readonly role: string;
}

const SUBJECT_CACHE_SIZE = 10_000;

/**
 * Usernames to try, in order, for a user provisioned from an external `sub`: readable first, then with a
 * stable 6-hex suffix, then with 80 bits of the sub's hash (subs issued together share long prefixes), then random.
 */
export function* provisionedUsernames(sub: string): Generator<string> {
  const base = sub.toLowerCase().replace(/[^a-z0-9_.-]+/g, "_").slice(0, 24) || "user";
  const digest = createHash("sha256").update(sub).digest("hex");
  yield base;
  yield `${base}-${digest.slice(0, 6)}`;
  yield `${base.slice(0, 11)}-${digest.slice(0, 20)}`;
  for (let attempt = 0; attempt < 5; attempt++) yield `${base.slice(0, 11)}-${randomBytes(10).toString("hex")}`;
}

export class AccountService {
  // Every authenticated request would otherwise read the caller's row: a short-lived, per-node cache of id
  // and role (the only fields authentication uses), dropped when the user or their role changes on this node; other
  // nodes follow within the TTL (suspension does not wait: its Redis revocation refuses tokens everywhere at once).
  private readonly subjects = new Map<string, { subject: Subject; until: number }>();

  constructor(private readonly deps: AccountServiceDeps) {}

  async register(body: RegisterBody, ip: string): Promise<AuthResponse> {
    const { policy, users } = this.deps;
    await this.deps.limits.consumeRegistration(ip);
    if (!policy.isKnownRole(body.role)) throw new ParleyError("invalid_request", `role: unknown role under the ${policy.name} policy`, "role");
    if (!policy.maySelfRegister(body.role)) throw new ParleyError("forbidden", `role: ${body.role} accounts cannot be self-registered`, "role");
    const passwordHash = await hash(body.password, HASH_OPTIONS);
    let row: UserRow;
    try {
      row = await users.insert({
        id: this.deps.newId(),
        username: body.username.toLowerCase(),
        displayName: body.display_name,
        passwordHash,
        role: body.role,
        email: body.email ?? null,
        emailConfirmedAt: this.deps.confirmations.confirmedAtFor(body.email ?? null, false),
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ParleyError("username_taken", undefined, "username");
      throw error;
    }
    await this.deps.confirmations.requestIfNeeded(row);
    return { user: toMe(row), access_token: await this.issueFor(row) };
  }

  async login(body: LoginBody, ip: string): Promise<AuthResponse> {
    const username = body.username.toLowerCase();
    await this.deps.limits.consumeLoginAttempt(username, ip);
    const row = await this.deps.users.findByUsername(username);
    const ok = row?.passwordHash ? await verify(row.passwordHash, body.password) : await verify(await DUMMY_HASH, body.password).then(() => false);
    // The attempt was counted as a failure before verifying; only a success gives it back.
    if (!row || !ok) throw new ParleyError("invalid_credentials");
    if (row.suspendedAt !== null) throw new ParleyError("account_suspended");
    await this.deps.limits.recordLoginSuccess(username, ip);
    return { user: toMe(row), access_token: await this.issueFor(row) };
  }

  /** Revokes the presented token on every node until it would have expired. */
  async logout(actor: Actor): Promise<void> {
    if (actor.jti === undefined) throw new ParleyError("invalid_request", "this token has no jti and cannot be revoked");
    await this.deps.revocations.revoke(actor.jti, actor.exp);
  }

  /** Drops this node's cached role of a user (after a role change). */
  forget(userId: string): void {
    this.subjects.delete(userId);
  }

  async me(actor: Actor): Promise<Me> {
    return toMe(await this.requireUser(actor));
  }

  async updateMe(actor: Actor, body: UpdateMeBody): Promise<Me> {
    const current = await this.requireUser(actor);
    // A new address must be confirmed again; the same one keeps its state.
    const newEmail = body.email !== undefined && body.email !== current.email;
    const changes = {
      ...(body.display_name === undefined ? {} : { displayName: body.display_name }),
      ...(body.email === undefined ? {} : { email: body.email }),
      ...(newEmail ? { emailConfirmedAt: this.deps.confirmations.confirmedAtFor(body.email ?? null, false) } : {}),
      ...(body.email_notifications === undefined ? {} : { emailNotifications: body.email_notifications }),
    };
    // An empty patch changes nothing: answer the caller as it is (an UPDATE without columns is invalid SQL).
    if (Object.keys(changes).length === 0) return toMe(current);
    const row = await this.deps.users.update(actor.id, changes);
    this.subjects.delete(actor.id);
    if (!row) throw new ParleyError("not_found");
    if (newEmail) await this.deps.confirmations.requestIfNeeded(row);
    return toMe(row);
  }

  /**
   * Verifies a bearer token and resolves its subject. An unknown `sub` from an external issuer is
   * provisioned from its claims; service tokens act without a user row.
   */
  async authenticate(token: string): Promise<Actor> {
    const claims = await this.deps.verifier.verify(token);
    const base = { exp: claims.exp, ...(claims.jti === undefined ? {} : { jti: claims.jti }) };
    if (claims.role === SERVICE_ROLE) return { id: claims.sub, role: SERVICE_ROLE, ...base };
    const subject = await this.subject(claims);
    return { id: subject.id, role: subject.role, ...base };
  }

  /**
   * The actor of claims another trusted node already verified (the internal edge channel): the subject is resolved
   * (provisioned on first use) exactly as for a bearer token; the caller checks revocation and expiry.
   */
  async actorFromVerifiedClaims(claims: TokenClaims): Promise<Actor> {
    const base = { exp: claims.exp, ...(claims.jti === undefined ? {} : { jti: claims.jti }) };
    if (claims.role === SERVICE_ROLE) throw new ParleyError("forbidden", "Service tokens act through the REST API only.");
    const subject = await this.subject(claims);
    return { id: subject.id, role: subject.role, ...base };
  }

  private async subject(claims: TokenClaims): Promise<Subject> {
    const now = (this.deps.now ?? Date.now)();
    const cached = this.subjects.get(claims.sub);
    if (cached !== undefined && cached.until > now) return cached.subject;
    const row = (await this.deps.users.findById(claims.sub)) ?? (await this.provision(claims));
    // The Redis revocation refuses at once on every node; the row is the record that survives a lost Redis.
    if (row.suspendedAt !== null || row.erasedAt !== null) throw new ParleyError("account_suspended");
    const subject = { id: row.id, role: row.role };
    this.subjects.delete(claims.sub);
    if (this.subjects.size >= SUBJECT_CACHE_SIZE) {
      const oldest = this.subjects.keys().next();
      if (oldest.done !== true) this.subjects.delete(oldest.value);
    }
    this.subjects.set(claims.sub, { subject, until: now + (this.deps.subjectCacheMs ?? 5_000) });
    return subject;
  }

  private async provision(claims: TokenClaims): Promise<UserRow> {
    const role = this.deps.policy.provisionedRole(claims.role);
    const email = claims.email ?? null;
    // An identity provider's address counts as confirmed only when its token says email_verified.
    const emailConfirmedAt = this.deps.confirmations.confirmedAtFor(email, claims.email_verified === true);
    const fields = { id: claims.sub, displayName: claims.name ?? claims.sub.slice(0, 100), role, email, emailConfirmedAt, external: true, passwordHash: null };
    for (const username of provisionedUsernames(claims.sub)) {
      try {
        const row = await this.deps.users.insertIfAbsent({ ...fields, username });
        await this.deps.confirmations.requestIfNeeded(row);
        return row;
      } catch (error) {
        // This readable username is taken by someone else: try the next, more unique one.
        if (!isUniqueViolation(error, "users_username_key")) throw error;
      }
    }
    throw new Error("no free username for a provisioned user");
  }

  private async requireUser(actor: Actor): Promise<UserRow> {
    const row = await this.deps.users.findById(actor.id);
    if (!row) throw new ParleyError("not_found", "No user for this token (service tokens have no profile).");
    return row;
  }

  private async issueFor(row: UserRow): Promise<string> {
    if (!this.deps.issuer) throw new ParleyError("forbidden", "This deployment uses an external identity provider; log in there.");
    const issued = await this.deps.issuer.issue({
      sub: row.id,
      role: row.role,
      name: row.displayName,
      ...(row.email === null ? {} : { email: row.email }),
    });
    return issued.token;
  }
}
