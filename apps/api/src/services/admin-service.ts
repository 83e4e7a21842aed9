import { hash } from "@node-rs/argon2";
import type { Clock } from "@parley/config";
import type { RevocationStore } from "@parley/auth";
import type { Database } from "@parley/db";
import { ParleyError, type ChangeRoleBody, type Me, type ProvisionUserBody } from "@parley/protocol";
import type { OutboxRelay } from "../events/outbox-relay";
import type { OutboxRepository } from "../repositories/outbox-repository";
import { isUniqueViolation, type UserRepository, type UserRow } from "../repositories/user-repository";
import type { AccountService } from "./account-service";
import type { Actor } from "./actor";
import type { ContactGuard } from "./contact-guard";
import { SERVICE_ROLE, type Policy } from "./policy";
import { ADMIN_ROLE } from "./relationship-service";
import { toMe } from "./user-view";

export interface AdminServiceDeps {
  readonly database: Database;
  readonly users: UserRepository;
  readonly accounts: AccountService;
  readonly guard: ContactGuard;
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
  readonly revocations: RevocationStore;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly newId: () => string;
}

const HASH_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Accounts managed by admins and services: provisioning privileged roles, role changes, suspension. */
export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /** Admins and service tokens manage accounts; policy moderators may also suspend and reinstate. */
  assertAdmin(actor: Actor): void {
    if (actor.role !== ADMIN_ROLE && actor.role !== SERVICE_ROLE) throw new ParleyError("forbidden", "Only admins and service tokens manage accounts.");
  }

  assertModerator(actor: Actor): void {
    if (actor.role !== ADMIN_ROLE && !this.deps.policy.isModerator(actor.role)) throw new ParleyError("forbidden", "Only moderators, admins and service tokens suspend accounts.");
  }

  /** Creates an account of any role of the policy (teachers, doctors, admins), with or without a password. */
  async provision(actor: Actor, body: ProvisionUserBody): Promise<Me> {
    this.assertAdmin(actor);
    const role = this.knownRole(body.role);
    try {
      const row = await this.deps.users.insert({
        id: this.deps.newId(),
        username: body.username.toLowerCase(),
        displayName: body.display_name,
        passwordHash: body.password === undefined ? null : await hash(body.password, HASH_OPTIONS),
        role,
        email: body.email ?? null,
        // An address an admin enters is theirs to vouch for.
        emailConfirmedAt: body.email === undefined ? null : this.deps.clock.now(),
      });
      return toMe(row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ParleyError("username_taken", undefined, "username");
      throw error;
    }
  }

  /** Changes a role; conversations the policy no longer allows close (and reopen when it allows them again). */
  async changeRole(actor: Actor, userId: string, body: ChangeRoleBody): Promise<Me> {
    this.assertAdmin(actor);
    const role = this.knownRole(body.role);
    const { database, users, guard, outbox } = this.deps;
    const row = await database.db.transaction(async (tx) => {
      const current = await users.lock(tx, userId);
      if (!current) throw new ParleyError("not_found", "No such user.");
      if (current.role === role) return current;
      const updated = await users.update(userId, { role }, tx);
      await outbox.add(tx, await guard.userChanged(tx, userId));
      return updated ?? current;
    });
    this.deps.accounts.forget(userId);
    this.deps.relay.kick();
    return toMe(row);
  }

  /** Refuses the user's tokens on every node and closes their sockets at once; idempotent. */
  async suspend(actor: Actor, userId: string): Promise<void> {
    this.assertModerator(actor);
    if (userId === actor.id) throw new ParleyError("invalid_request", "user_id: you cannot suspend yourself", "user_id");
    const row = await this.existing(userId);
    if (row.role === ADMIN_ROLE && actor.role !== ADMIN_ROLE && actor.role !== SERVICE_ROLE) throw new ParleyError("forbidden", "Only admins suspend admins.");
    await this.deps.users.update(userId, { suspendedAt: row.suspendedAt ?? this.deps.clock.now() });
    await this.deps.revocations.revokeSubject(userId);
  }

  async reinstate(actor: Actor, userId: string): Promise<void> {
    this.assertModerator(actor);
    const row = await this.existing(userId);
    if (row.erasedAt !== null) throw new ParleyError("conflict", "The account was erased.");
    await this.deps.users.update(userId, { suspendedAt: null });
    await this.deps.revocations.restoreSubject(userId);
  }

  private async existing(userId: string): Promise<UserRow> {
    const row = await this.deps.users.findById(userId);
    if (!row) throw new ParleyError("not_found", "No such user.");
    return row;
  }

  private knownRole(role: string): string {
    if (role === SERVICE_ROLE || !this.deps.policy.isKnownRole(role)) throw new ParleyError("invalid_request", `role: not a user role of the ${this.deps.policy.name} policy`, "role");
    return role;
  }
}
