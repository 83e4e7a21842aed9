import type { RevocationChecker } from "@parley/auth";
import type { Logger } from "@parley/observability";
import { blockListQuery, deliveredBody, editMessageBody, historyQuery, ParleyError, presenceQuery, readBody, sendMessageBody } from "@parley/protocol";
import type { InternalCommand, InternalResult } from "@parley/protocol/internal";
import { toErrorResponse } from "../http/error-handler";
import { parse } from "../http/parse";
import type { Actor } from "../services/actor";
import type { ApiServices } from "../services/api-services";
import { conversationIdOrNotFound, messageIdOrNotFound } from "../http/path-params";

export interface InternalCommandsOptions {
  readonly services: ApiServices;
  readonly revocations: RevocationChecker;
  readonly logger: Logger;
  /** Allowed clock skew on `exp`, as for bearer tokens (JWT_CLOCK_TOLERANCE, ms). */
  readonly clockToleranceMs: number;
  readonly now?: () => number;
}

/**
 * Runs the commands an edge sends for users it has verified: the same services and schemas as the REST routes
 * (so the same answers and error codes), without a second JWT verification or the per-request limits. The token
 * id is still checked against this node's revocation cache, and `exp` against the clock.
 */
export class InternalCommands {
  private readonly now: () => number;

  constructor(private readonly options: InternalCommandsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Never throws: every failure is the error answer REST would give. */
  async run(command: InternalCommand): Promise<InternalResult> {
    try {
      const actor = await this.actorOf(command);
      const { status, body } = await this.dispatch(command, actor);
      return body === undefined ? { id: command.id, ok: true, status } : { id: command.id, ok: true, status, body };
    } catch (error) {
      const response = toErrorResponse(error);
      if (response.status >= 500) this.options.logger.error({ err: error, op: command.op }, "internal command failed");
      return { id: command.id, ok: false, status: response.status, error: response.body.error };
    }
  }

  private async actorOf({ actor }: InternalCommand): Promise<Actor> {
    if (actor.exp * 1000 + this.options.clockToleranceMs <= this.now()) throw new ParleyError("token_expired");
    // The edge closes sockets of revoked tokens; a command already on its way is refused here (local cache, no Redis in the common case).
    if (actor.jti !== undefined && (await this.options.revocations.isRevoked(actor.jti))) throw new ParleyError("token_revoked");
    // A suspended or erased account is refused at once on every node, as a bearer token of it would be.
    if (this.options.revocations.isSubjectRevoked !== undefined && (await this.options.revocations.isSubjectRevoked(actor.sub))) {
      throw new ParleyError("account_suspended");
    }
    return this.options.services.accounts.actorFromVerifiedClaims(actor);
  }

  private async dispatch(command: InternalCommand, actor: Actor): Promise<{ status: number; body?: unknown }> {
    const { services } = this.options;
    const target = command.target ?? "";
    switch (command.op) {
      case "me":
        return { status: 200, body: await services.accounts.me(actor) };
      case "provision":
        return { status: 204 };
      case "get_conversation":
        return { status: 200, body: await services.conversations.get(actor, conversationIdOrNotFound(target)) };
      case "history":
        return { status: 200, body: await services.messages.history(actor, conversationIdOrNotFound(target), parse(historyQuery, command.args)) };
      case "send_message": {
        const { message, created } = await services.messages.send(actor, conversationIdOrNotFound(target), parse(sendMessageBody, command.args));
        return { status: created ? 201 : 200, body: message };
      }
      case "edit_message":
        return { status: 200, body: await services.messages.edit(actor, messageIdOrNotFound(target), parse(editMessageBody, command.args)) };
      case "delete_message":
        await services.messages.remove(actor, messageIdOrNotFound(target));
        return { status: 204 };
      case "mark_read":
        return { status: 200, body: await services.reads.markRead(actor, conversationIdOrNotFound(target), parse(readBody, command.args).up_to_seq) };
      case "mark_delivered":
        return { status: 200, body: await services.deliveries.markDelivered(actor, conversationIdOrNotFound(target), parse(deliveredBody, command.args).up_to_seq) };
      case "presence": {
        const { user_ids } = parse(presenceQuery, command.args);
        return { status: 200, body: { items: await services.presence.presence(actor, user_ids), next_cursor: null } };
      }
      case "blocks":
        return { status: 200, body: await services.blocks.list(actor, parse(blockListQuery, command.args)) };
    }
  }
}
