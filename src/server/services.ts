import type { DataSource } from "typeorm";
import { AuditEventPublisher } from "../audit/audit-event.publisher";
import { AuditEventService } from "../audit/audit-event.service";
import { AuditRecorder } from "../audit/audit-recorder.service";
import { AuditLogService } from "../audit-log/audit-log.service";
import { CursorCodec } from "../audit-log/cursor";
import type { AppConfig } from "../config";
import { DirectoryService } from "../directory/directory.service";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  dataSource: DataSource;
  directory: DirectoryService;
  publisher: AuditEventPublisher;
  recorder: AuditRecorder;
  events: AuditEventService;
  logs: AuditLogService;
  cursors: CursorCodec;
}

export function createServices(dataSource: DataSource, config: AppConfig): AppServices {
  const directory = new DirectoryService(dataSource);
  const publisher = new AuditEventPublisher();
  // Cursors are signed with a key derived from the token secret: no second secret to manage.
  const cursors = new CursorCodec(config.auth.jwtSecret);
  return {
    cursors,
    logs: new AuditLogService(dataSource, cursors),
    dataSource,
    directory,
    publisher,
    recorder: new AuditRecorder(dataSource, directory, publisher),
    events: new AuditEventService(dataSource),
  };
}
