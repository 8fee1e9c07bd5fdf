import type { DataSource } from "typeorm";
import { BackgroundThread } from "../background/background-thread";
import type { Logger } from "../common/logger";
import type { AppConfig } from "../config";
import { ReadGate } from "../database/read-gate";
import { ServiceMetrics } from "../metrics/service-metrics";
import { RememberedCustomerNames } from "../directory/customer-names";
import { DirectoryEntryCache } from "../directory/entry-cache";
import { shareEntryChanges } from "../directory/entry-changes";
import { DirectoryService } from "../directory/directory.service";
import { IntegrityService } from "../integrity/integrity.service";
import { CostBudgets, createCostBudgets } from "../limits/cost-budget";
import { createEventBus, EventBus } from "../live-tail/event-bus";
import { LiveTailService } from "../live-tail/live-tail.service";
import { AuditEventService } from "../logs/audit-event.service";
import { AuditLogService } from "../logs/audit-log.service";
import { CursorCodec } from "../logs/cursor";
import { AuditEventPublisher } from "../recording/event-publisher";
import { AuditRecorder } from "../recording/recorder.service";

/** The service layer, built once per process and handed to every resolver. */
export interface AppServices {
  bus: EventBus;
  directory: DirectoryService;
  recorder: AuditRecorder;
  events: AuditEventService;
  logs: AuditLogService;
  liveTail: LiveTailService;
  /** Keeps the search index and the Merkle log up with the events, in a thread of its own; started by the running service only. */
  background: BackgroundThread;
  /** The Merkle log's checkpoints and proofs. */
  integrity: IntegrityService;
  /** Each caller's budget of cost points, charged before an operation runs. */
  budgets: CostBudgets;
  /** Where the logs, search and the directory's reads run: a share of the pool, each statement time-limited. */
  reads: ReadGate;
  /** The directory's entries log pages show, kept in memory per version of a workspace's directory. */
  entries: DirectoryEntryCache;
  /** What the service counts for Prometheus (served on METRICS_PORT). */
  metrics: ServiceMetrics;
}

export function createServices(dataSource: DataSource, config: AppConfig, logger: Logger): AppServices {
  const bus = createEventBus({ redisUrl: config.redisUrl, logger });
  // The directory's entries log pages show, kept current by every instance's recordings.
  const entries = new DirectoryEntryCache();
  const publisher = new AuditEventPublisher(bus.pubSub, [shareEntryChanges(entries, bus, logger)]);
  // Cursors are signed with a key derived from the token secret: no second secret to manage.
  const cursors = new CursorCodec(config.auth.jwtSecret);
  const background = new BackgroundThread(
    {
      database: config.database,
      logLevel: config.logLevel,
      jobs: { searchIndex: config.searchIndexing, merkleLog: config.merkleLog },
      integrity: { signingKey: config.integrity.signingKey, checkpointIntervalSeconds: config.integrity.checkpointIntervalSeconds },
    },
    logger,
  );
  const { readConnections, poolWaitMs, readTimeoutMs } = config.database;
  const metrics = new ServiceMetrics();
  const reads = new ReadGate(dataSource, {
    slots: readConnections,
    waitMs: poolWaitMs,
    statementTimeoutMs: readTimeoutMs,
    onStatementTimeout: () => metrics.statementTimedOut(),
  });
  const directory = new DirectoryService(reads);
  return {
    bus,
    directory,
    recorder: new AuditRecorder(dataSource, directory, publisher, background, metrics),
    events: new AuditEventService(reads),
    logs: new AuditLogService(reads, cursors, new RememberedCustomerNames(), entries),
    liveTail: new LiveTailService(dataSource, bus, cursors, logger),
    background,
    integrity: new IntegrityService(reads, config.integrity.signingKey),
    budgets: createCostBudgets(config.rateLimits, { redisUrl: config.redisUrl, logger }),
    reads,
    entries,
    metrics,
  };
}
