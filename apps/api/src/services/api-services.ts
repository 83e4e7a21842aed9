import type { AccountService } from "./account-service";
import type { AdminService } from "./admin-service";
import type { AuditService } from "./audit-service";
import type { EmailConfirmationService } from "./email-confirmation-service";
import type { ReportService } from "./report-service";
import type { DataSubjectService } from "./data-subject-service";
import type { BlockService } from "./block-service";
import type { ConversationService } from "./conversation-service";
import type { MembershipService } from "./membership-service";
import type { MessageService } from "./message-service";
import type { DeliveryService } from "./delivery-service";
import type { ReadService } from "./read-service";
import type { RestoreService } from "./restore-service";
import type { SearchService } from "./search-service";
import type { PresenceService } from "./presence-service";
import type { RelationshipService } from "./relationship-service";
import type { UserDirectoryService } from "./user-directory-service";
import type { RateLimits } from "../repositories/rate-limits";

/** Every domain service of the API node, built once by api-node.ts; routers receive what they need. */
export interface ApiServices {
  readonly accounts: AccountService;
  readonly confirmations: EmailConfirmationService;
  readonly admin: AdminService;
  readonly audit: AuditService;
  readonly reports: ReportService;
  readonly dataSubjects: DataSubjectService;
  readonly limits: RateLimits;
  readonly conversations: ConversationService;
  readonly membership: MembershipService;
  readonly users: UserDirectoryService;
  readonly relationships: RelationshipService;
  readonly blocks: BlockService;
  readonly presence: PresenceService;
  readonly messages: MessageService;
  readonly reads: ReadService;
  readonly deliveries: DeliveryService;
  readonly search: SearchService;
  readonly restore: RestoreService;
}
