import type { DataSource } from "typeorm";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { DirectoryService } from "../directory/directory.service";
import { createEventBus, EventBus } from "../live-tail/event-bus";
import { LiveTailService } from "../live-tail/live-tail.service";
import { AuditEventService } from "../logs/audit-event.service";
import { AuditLogService } from "../logs/audit-log.service";
import { CursorCodec } from "../logs/cursor";
import { AuditEventPublisher } from "../recording/event-publisher";
import { AuditRecorder } from "../recording/recorder.service";
import { IndexerThread } from "../search/indexer-thread";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  bus: EventBus;
  directory: DirectoryService;
  recorder: AuditRecorder;
  events: AuditEventService;
  logs: AuditLogService;
  liveTail: LiveTailService;
  /** Keeps the search index up with the events, in a thread of its own; started by the running service only. */
  searchIndexer: IndexerThread;
}

export function createServices(dataSource: DataSource, config: AppConfig, logger: Logger): AppServices {
  const bus = createEventBus({ redisUrl: config.redisUrl, logger });
  const directory = new DirectoryService(dataSource);
  const publisher = new AuditEventPublisher(bus.pubSub);
  // Cursors are signed with a key derived from the token secret: no second secret to manage.
  const cursors = new CursorCodec(config.auth.jwtSecret);
  const searchIndexer = new IndexerThread({ database: config.database, logLevel: config.logLevel }, logger);
  return {
    bus,
    directory,
    recorder: new AuditRecorder(dataSource, directory, publisher, searchIndexer),
    events: new AuditEventService(dataSource),
    logs: new AuditLogService(dataSource, cursors),
    liveTail: new LiveTailService(dataSource, bus, cursors, logger),
    searchIndexer,
  };
}
