import http from "node:http";

/**
 * Load and its figures. Every latency is in milliseconds on the monotonic
 * clock; `wallClock` compares instants across processes of this machine.
 */

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Milliseconds since the epoch, sub-millisecond: what the live tail's two processes agree on. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Percentiles by nearest rank; NaN without samples. */
export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]) : NaN);
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}

export function round(value: number, decimals = 3): number {
  const factor = 10 ** decimals;
  return Number.isFinite(value) ? Math.round(value * factor) / factor : value;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 && Number.isFinite(numerator) ? round(numerator / denominator) : NaN;
}

export interface LoadResult {
  /** Latencies of the operations that succeeded. */
  latency: LatencySummary;
  completed: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** Completed operations per second of wall time. */
  perSecond: number;
}

/** What one stretch of load did: the latencies of the operations that succeeded, and the rest. */
interface LoadSamples {
  latencies: number[];
  errors: number;
  firstError?: string;
  elapsedMs: number;
}

interface LoopOptions {
  concurrency: number;
  operations: number;
  maxMs: number;
  run(index: number, worker: number): Promise<unknown>;
}

/**
 * `concurrency` workers, each starting its next operation when the previous
 * one ended, until `operations` were started or `maxMs` passed. `index`
 * counts operations across workers; a throw counts as an error.
 */
export async function closedLoop(options: LoopOptions): Promise<LoadResult> {
  return loadResult(await loop(options));
}

/**
 * Two loads measured side by side: `rounds` blocks of each, taking turns
 * (the first load first in even rounds, the second in odd ones), each
 * block a {@link closedLoop} of its share of `operations` and `maxMs`; each
 * load's latencies are pooled over its blocks. The machine's speed drifts
 * from one minute to the next: two loads measured one after the other each
 * see their own stretch of it, two measured in turns see the same.
 */
export async function alternatedLoops(options: Omit<LoopOptions, "run"> & { rounds: number; runs: [LoopOptions["run"], LoopOptions["run"]] }): Promise<[LoadResult, LoadResult]> {
  const pooled: [LoadSamples, LoadSamples] = [
    { latencies: [], errors: 0, elapsedMs: 0 },
    { latencies: [], errors: 0, elapsedMs: 0 },
  ];
  const block = { concurrency: options.concurrency, operations: Math.ceil(options.operations / options.rounds), maxMs: options.maxMs / options.rounds };
  for (let round = 0; round < options.rounds; round++) {
    for (const side of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const samples = await loop({ ...block, run: options.runs[side] });
      const into = pooled[side];
      into.latencies.push(...samples.latencies);
      into.errors += samples.errors;
      into.firstError ??= samples.firstError;
      into.elapsedMs += samples.elapsedMs;
    }
  }
  return [loadResult(pooled[0]), loadResult(pooled[1])];
}

async function loop(options: LoopOptions): Promise<LoadSamples> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = monotonicMs();
  const deadline = started + options.maxMs;
  const worker = async (id: number) => {
    while (next < options.operations && monotonicMs() < deadline) {
      const t0 = monotonicMs();
      try {
        await options.run(next++, id);
        latencies.push(monotonicMs() - t0);
      } catch (error) {
        errors += 1;
        firstError ??= (error instanceof Error ? error.message : String(error)).slice(0, 500);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, id) => worker(id)));
  return { latencies, errors, ...(firstError ? { firstError } : {}), elapsedMs: monotonicMs() - started };
}

function loadResult({ latencies, errors, firstError, elapsedMs }: LoadSamples): LoadResult {
  return { latency: summarize(latencies), completed: latencies.length, errors, ...(firstError ? { firstError } : {}), elapsedMs: round(elapsedMs), perSecond: round((latencies.length / elapsedMs) * 1000, 1) };
}

/** GraphQL over HTTP on keep-alive sockets, one per concurrent caller, as a gateway would hold them. */
export class GraphQLHttpClient {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(url: string, sockets: number) {
    this.target = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  post(body: string, token: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          agent: this.agent,
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${token}` },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          response.on("error", reject);
        },
      );
      request.setTimeout(60_000, () => request.destroy(new Error("no response within 60 s")));
      request.on("error", reject);
      request.end(body);
    });
  }

  /** Fails unless the answer is 200 without errors; a text search, so that the client spends little of the shared CPU. */
  async expectData(body: string, token: string): Promise<string> {
    const { status, text } = await this.post(body, token);
    if (status !== 200 || !text.startsWith('{"data"') || text.includes('"errors":[')) throw new Error(`HTTP ${status}: ${text.slice(0, 400)}`);
    return text;
  }

  async data<T>(query: string, variables: Record<string, unknown>, token: string): Promise<T> {
    return (JSON.parse(await this.expectData(operationBody(query, variables), token)) as { data: T }).data;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function operationBody(query: string, variables: Record<string, unknown> = {}): string {
  return JSON.stringify({ query, variables });
}
