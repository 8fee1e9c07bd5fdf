import type { DataSource } from "typeorm";
import { AuditEventPublisher } from "../audit/audit-event.publisher";
import { AuditEventService } from "../audit/audit-event.service";
import { AuditRecorder } from "../audit/audit-recorder.service";
import { AuditLogService } from "../audit-log/audit-log.service";
import { CursorCodec } from "../audit-log/cursor";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { DirectoryService } from "../directory/directory.service";
import { createEventBus, EventBus } from "../live-tail/event-bus";
import { LiveTailService } from "../live-tail/live-tail.service";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  dataSource: DataSource;
  bus: EventBus;
  directory: DirectoryService;
  publisher: AuditEventPublisher;
  recorder: AuditRecorder;
  events: AuditEventService;
  logs: AuditLogService;
  cursors: CursorCodec;
  liveTail: LiveTailService;
}

export function createServices(dataSource: DataSource, config: AppConfig, logger: Logger): AppServices {
  const bus = createEventBus({ redisUrl: config.redisUrl, logger });
  const directory = new DirectoryService(dataSource);
  const publisher = new AuditEventPublisher(bus.pubSub);
  // Cursors are signed with a key derived from the token secret: no second secret to manage.
  const cursors = new CursorCodec(config.auth.jwtSecret);
  return {
    dataSource,
    bus,
    directory,
    publisher,
    recorder: new AuditRecorder(dataSource, directory, publisher),
    events: new AuditEventService(dataSource),
    logs: new AuditLogService(dataSource, cursors),
    cursors,
    liveTail: new LiveTailService(dataSource, bus, cursors, logger),
  };
}
