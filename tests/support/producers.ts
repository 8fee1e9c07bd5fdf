import http from "node:http";
import type { EventInput } from "./events";
import { Call, callCodes, record } from "./recording-calls";

export interface ProducerOptions {
  clients: number;
  eventsPerCall: number;
  /** The event a client sends at a position of a batch; its idempotency key must be unique to (client, batch, index). */
  event(client: number, batch: number, index: number): EventInput;
  /** How long a client waits before it sends a refused batch again. @default 50 */
  retryDelayMs?: number;
  /** How long a client waits after an acknowledged batch before it sends the next. @default 0 */
  pauseMs?: number;
}

/** One batch of one client, and every call that carried it. */
export interface Batch {
  keys: string[];
  calls: Call[];
  /** The call that was answered 200, once one was. */
  acknowledged?: Call;
}

/**
 * Producers as a fault finds them: each client records batches one after the
 * other and, when a call is refused (503) or gets no answer, sends the same
 * batch again, with the same idempotency keys (to the next instance, when
 * given several), until it is acknowledged.
 * Stopping lets each client finish its batch, so that every batch sent ends
 * acknowledged: what is stored must then be exactly what was acknowledged.
 */
export class RetryingProducers {
  readonly batches: Batch[] = [];
  private stopping = false;
  private abandoned = false;
  private readonly running: Promise<void>[];

  /** `baseUrls`: the instances to record on; a refused or unanswered call is sent again to the next one. */
  constructor(
    private readonly baseUrls: string | readonly string[],
    private readonly token: string,
    private readonly options: ProducerOptions,
  ) {
    this.running = Array.from({ length: options.clients }, (_, client) => this.client(client));
  }

  get calls(): Call[] {
    return this.batches.flatMap((batch) => batch.calls);
  }

  /** Batches acknowledged with an answer that came after `time` (Date.now()). */
  acknowledgedAfter(time: number): number {
    return this.batches.filter((batch) => (batch.acknowledged?.settledAt ?? 0) > time).length;
  }

  /** Calls answered otherwise than 200, or 503 SERVICE_UNAVAILABLE with a Retry-After, or with no answer. */
  unexpectedAnswers(): unknown[] {
    return this.calls
      .filter((call) => call.status !== 200 && !(call.status === 503 && call.retryAfter && callCodes(call).join() === "SERVICE_UNAVAILABLE"))
      .map((call) => ({ status: call.status, failure: call.failure, errors: call.body?.errors }));
  }

  /** Stops sending new batches; resolves once each client's last batch is acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /** Stops at once, leaving a batch unacknowledged if need be (a test that failed). */
  async abandon(): Promise<void> {
    this.abandoned = true;
    await this.stop();
  }

  private async client(client: number): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const urls = typeof this.baseUrls === "string" ? [this.baseUrls] : this.baseUrls;
    let instance = 0;
    try {
      for (let index = 0; !this.stopping; index++) {
        const events = Array.from({ length: this.options.eventsPerCall }, (_, position) => this.options.event(client, index, position));
        const batch: Batch = { keys: events.map((event) => event.idempotencyKey as string), calls: [] };
        this.batches.push(batch);
        while (!batch.acknowledged && !this.abandoned) {
          const call = record(agent, urls[instance], this.token, events);
          batch.calls.push(call);
          await call.settled;
          if (call.status === 200 && call.body?.data) batch.acknowledged = call;
          else {
            instance = (instance + 1) % urls.length;
            await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 50));
          }
        }
        if (this.options.pauseMs) await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
      }
    } finally {
      agent.destroy();
    }
  }
}
