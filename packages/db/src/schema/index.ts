import type { emailLog } from "./email-log";

export { users } from "./users";
export { relationships } from "./relationships";
export { conversations, conversationTypes, participants, participantRoles } from "./conversations";
export { archivedMessages, messages, messageTypes, type MessageAttachment } from "./messages";
export { outbox } from "./outbox";
export { emailLog, emailLogStatuses } from "./email-log";
export { auditLog, blocks, emailConfirmations, reports, reportStatuses } from "./safety";

/** The delivery state of one e-mail, as the worker records it. */
export type EmailLogStatus = (typeof emailLog.$inferSelect)["status"];
