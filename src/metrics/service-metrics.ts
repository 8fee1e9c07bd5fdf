import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The transports an operation arrives by. */
export type Transport = "http" | "ws";

/** What the metrics read when scraped: levels the service keeps anyway. */
export interface MetricSources {
  /** Live tails open now. */
  subscriptions(): number;
  /** WebSockets open now. */
  sockets(): number;
  /** Connections of the pool handed out, and requests waiting for one. */
  pool(): { inUse: number; waiting: number };
  /** Read statements running, and reads waiting for their share of the pool. */
  reads(): { running: number; waiting: number };
}

/** Distinct operation names kept as label values; later ones count as `other`, so that clients cannot grow the series without end. @default 100 */
const MAX_OPERATION_NAMES = 100;
const OPERATION_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
/** Seconds: a page takes milliseconds, a large recording a few hundred. */
const DURATION_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Points: a page of 50 costs about 650, the most an operation may cost is 5,000 by default. */
const COST_BUCKETS = [1, 10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/**
 * The service's Prometheus metrics (prom-client), in a registry of their
 * own, served on METRICS_PORT (src/server/metrics-server.ts). Everything is
 * prefixed `audit_log_`; Node's own process metrics come along.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly names = new Set<string>();
  private deliveryCount = 0;
  private readonly operations: Counter<"transport" | "operation" | "code">;
  private readonly durations: Histogram<"transport" | "operation">;
  private readonly costs: Histogram<"transport">;
  private readonly rateLimited: Counter<"transport">;
  private readonly recorded: Counter;
  private readonly duplicates: Counter;
  private readonly slowConsumerCloses: Counter;
  private readonly statementTimeouts: Counter;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "audit_log_" });
    this.operations = new Counter({
      name: "audit_log_operations_total",
      help: "GraphQL operations answered, by transport, operation name and result code (OK, or the first error's extensions.code).",
      labelNames: ["transport", "operation", "code"],
      registers,
    });
    this.durations = new Histogram({
      name: "audit_log_operation_duration_seconds",
      help: "Time from a GraphQL operation's arrival to its answer, by transport and operation name.",
      labelNames: ["transport", "operation"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.costs = new Histogram({ name: "audit_log_operation_cost_points", help: "Cost of the operations checked, in points.", labelNames: ["transport"], buckets: COST_BUCKETS, registers });
    this.rateLimited = new Counter({ name: "audit_log_rate_limited_total", help: "Operations refused because the caller's budget could not pay for them.", labelNames: ["transport"], registers });
    this.recorded = new Counter({ name: "audit_log_events_recorded_total", help: "Events stored by recording calls.", registers });
    this.duplicates = new Counter({ name: "audit_log_events_duplicate_total", help: "Events sent again with an idempotency key already stored (answered, not stored again).", registers });
    // Counted in a plain number, read at each scrape: a hot conversation makes hundreds of thousands a minute.
    const delivered = () => this.deliveryCount;
    new Counter({
      name: "audit_log_live_deliveries_total",
      help: "Live-tail results written to subscribers' sockets.",
      registers,
      collect() {
        this.reset();
        this.inc(delivered());
      },
    });
    this.slowConsumerCloses = new Counter({ name: "audit_log_live_slow_consumer_closes_total", help: "Sockets closed with 4480 because their client did not read.", registers });
    this.statementTimeouts = new Counter({ name: "audit_log_read_statement_timeouts_total", help: "Read statements the database stopped at DB_READ_TIMEOUT_MS.", registers });
  }

  /** Registers the levels read at each scrape. */
  observe(sources: MetricSources): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge("audit_log_live_subscriptions", "Live tails open now.", () => sources.subscriptions());
    gauge("audit_log_websockets", "WebSockets open now.", () => sources.sockets());
    gauge("audit_log_db_pool_in_use", "Connections of the database pool handed out now.", () => sources.pool().inUse);
    gauge("audit_log_db_pool_waiting", "Requests waiting for a connection of the database pool now.", () => sources.pool().waiting);
    gauge("audit_log_db_reads_running", "Read statements running now (at most DB_READ_CONNECTIONS).", () => sources.reads().running);
    gauge("audit_log_db_reads_waiting", "Reads waiting for their share of the pool now.", () => sources.reads().waiting);
  }

  /** An operation answered: its name as the client gave it, its code, how long it took, and its cost when it was checked. */
  operationDone(transport: Transport, name: string | null | undefined, code: string, seconds: number, cost?: number): void {
    const operation = this.operationLabel(name);
    this.operations.inc({ transport, operation, code });
    this.durations.observe({ transport, operation }, seconds);
    if (cost !== undefined) this.costs.observe({ transport }, cost);
    if (code === "RATE_LIMITED") this.rateLimited.inc({ transport });
  }

  eventsRecorded(stored: number, duplicates: number): void {
    if (stored > 0) this.recorded.inc(stored);
    if (duplicates > 0) this.duplicates.inc(duplicates);
  }

  delivered(): void {
    this.deliveryCount++;
  }

  slowConsumerClosed(): void {
    this.slowConsumerCloses.inc();
  }

  statementTimedOut(): void {
    this.statementTimeouts.inc();
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name || !OPERATION_NAME.test(name)) return "anonymous";
    if (this.names.has(name)) return name;
    if (this.names.size >= MAX_OPERATION_NAMES) return "other";
    this.names.add(name);
    return name;
  }
}
