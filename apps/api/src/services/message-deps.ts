import type { Database } from "@parley/db";
import type { OutboxRelay } from "../events/outbox-relay";
import type { MessageRepository } from "../repositories/message-repository";
import type { OutboxRepository } from "../repositories/outbox-repository";
import type { ParticipantRepository } from "../repositories/participant-repository";

/** What the services around messages share: the database, messages and participants, and the outbox with its relay. */
export interface MessageDeps {
  readonly database: Database;
  readonly messages: MessageRepository;
  readonly participants: Pick<ParticipantRepository, "activeUserIds">;
  readonly outbox: OutboxRepository;
  readonly relay: Pick<OutboxRelay, "kick">;
}
