/**
 * Timing and percentiles. Every latency is in milliseconds, measured with the
 * monotonic clock; `wallClock` is for comparing instants across processes.
 */

/** Milliseconds on the monotonic clock (for durations within one process). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Milliseconds since the epoch with sub-millisecond precision. Two processes
 * on one machine agree on it to well under a millisecond, which is what the
 * live-tail delivery latency (recorder process to client process) needs.
 */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of ascending samples; NaN when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : NaN),
    mean: round(sorted.length ? total / sorted.length : NaN),
  };
}

/** Three decimals: microseconds for milliseconds, enough for every figure here. */
export function round(value: number, decimals = 3): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator > 0 && Number.isFinite(numerator) ? round(numerator / denominator, 3) : NaN;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects after `ms` with a message naming what was awaited. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface LoadResult {
  /** Per-operation latencies of the successful operations. */
  latency: LatencySummary;
  completed: number;
  errors: number;
  /** The first error's message, when any. */
  firstError?: string;
  elapsedMs: number;
  /** Completed operations per second of wall time. */
  perSecond: number;
}

export interface ClosedLoopOptions {
  /** Workers issuing operations back to back. */
  concurrency: number;
  /** Operations in all (an upper bound). */
  operations: number;
  /** Stop starting new operations after this long. */
  maxMs: number;
  /** One operation; `index` counts from 0 across all workers. Throw to count an error. */
  run(index: number, worker: number): Promise<void>;
}

/**
 * A closed loop: `concurrency` workers, each starting its next operation as
 * soon as the previous one ends, until `operations` were started or `maxMs`
 * passed. Latency is measured around each `run`.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = monotonicMs();
  const deadline = started + options.maxMs;
  const worker = async (id: number) => {
    while (next < options.operations && monotonicMs() < deadline) {
      const index = next++;
      const t0 = monotonicMs();
      try {
        await options.run(index, id);
        latencies.push(monotonicMs() - t0);
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, id) => worker(id)));
  const elapsedMs = monotonicMs() - started;
  return {
    latency: summarize(latencies),
    completed: latencies.length,
    errors,
    ...(firstError ? { firstError: firstError.slice(0, 500) } : {}),
    elapsedMs: round(elapsedMs),
    perSecond: round((latencies.length / elapsedMs) * 1000, 1),
  };
}
