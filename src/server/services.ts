import type { DataSource } from "typeorm";
import { AuditEventPublisher } from "../audit/audit-event.publisher";
import { AuditEventService } from "../audit/audit-event.service";
import { AuditRecorder } from "../audit/audit-recorder.service";
import { DirectoryService } from "../directory/directory.service";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  dataSource: DataSource;
  directory: DirectoryService;
  publisher: AuditEventPublisher;
  recorder: AuditRecorder;
  events: AuditEventService;
}

export function createServices(dataSource: DataSource): AppServices {
  const directory = new DirectoryService(dataSource);
  const publisher = new AuditEventPublisher();
  return {
    dataSource,
    directory,
    publisher,
    recorder: new AuditRecorder(dataSource, directory, publisher),
    events: new AuditEventService(dataSource),
  };
}
