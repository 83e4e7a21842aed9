export { ParleyClient, type ClientEvents, type ParleyClientOptions } from "./client";
export { Conversation } from "./conversation";
export type { CommandFields, CommandOptions, ConnectionState, ServerEventFrame, ServerEventType } from "./connection";
export { ParleyProtocolError, ParleyRequestError, ParleyTerminalError, ParleyTimeoutError, type TerminalReason } from "./errors";
export type { OutboxEntry, OutboxState, OutgoingMessage } from "./outbox";
export { RestClient, type FetchLike, type RestClientOptions, type RestMethods, type RestRequest, type RestResponse } from "./rest-client";
export { browserStorage, memoryStorage, type KeyValueStorage } from "./storage";
export type { TokenProvider, TokenRequestReason } from "./token-provider";
export type { WebSocketConstructor, WebSocketLike } from "./websocket";
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
export type { Clock } from "./clock";
export { CloseCode, ERRORS } from "@parley/protocol";
export type {
  AckDataOf,
  AckedCommandType,
  Attachment,
  ConnectedFrame,
  Conversation as ConversationRecord,
  ErrorCode,
  Me,
  Message,
  Participant,
  Presence,
  PresenceStatus,
  PublicUser,
  ServerFrame,
  ServerFrameOf,
  Stats,
  UnreadSummary,
} from "@parley/protocol";
