export { ChannelSubscriber } from "./channel-subscriber";
export { comparePos, eventEnvelope, parseEnvelope, parseStoredEvent, type EventEnvelope } from "./envelope";
export { EventPublisher, type EventPublisherOptions, type PublishableEvent } from "./event-publisher";
export { latestPos, readUserStream, type ReplayResult } from "./event-stream";
export { busKeys, type BusKeys } from "./keys";
export { PresenceStore, type ClusterStats, type ConnectionRef, type PresenceStoreOptions } from "./presence-store";
