/**
 * Command line and the two sizes. `full` is what the issue asks for; `smoke`
 * runs every part end to end with small counts, in a few minutes, for CI.
 */

export type Size = "smoke" | "full";
export type Part = "ingest" | "queries" | "live" | "overhead";
export const PARTS: readonly Part[] = ["ingest", "queries", "live", "overhead"];

export interface LiveScenario {
  /** Stable name, used in the results. */
  name: string;
  /** Subscriptions (one graphql-ws client, so one socket, each). */
  subscribers: number;
  /** Conversations the subscribers are spread over; 0: workspace subscriptions. */
  conversations: number;
  /** Events recorded per second, one per request, round-robin over the conversations. */
  eventsPerSecond: number;
  /** The delivery p99 target in ms, when the issue sets one. */
  p99TargetMs?: number;
  /** Also run through Redis with two service instances. */
  redis: boolean;
}

export interface SizeProfile {
  size: Size;
  ingest: {
    /** Events per configuration (each batch size x client count), service and raw alike. */
    events: Record<1 | 100 | 500, number>;
    /** Upper bound on one configuration's run, per side. */
    maxMs: number;
    /**
     * How long the empty request (per client count) and the single events in
     * process (per configuration) are each measured, after as long again unmeasured.
     */
    shortRunMs: number;
  };
  queries: {
    /** Events the generator builds. */
    events: number;
    /** The deep page measured beside page 1 (the issue says page 100). */
    deepPage: number;
    /** Requests measured per query, page and concurrency (after warm-up). */
    requests: number;
    /** Requests run before each measurement, unmeasured. */
    warmup: number;
    /**
     * Milliseconds the new service process serves every non-search query's
     * first page before the first measurement, so that no measurement pays
     * for V8 still optimizing its code.
     */
    serviceWarmupMs: number;
    /** Upper bound on one measurement. */
    maxMs: number;
  };
  live: {
    scenarios: LiveScenario[];
    /** Seconds of recording at the fixed rate. */
    seconds: number;
    /** How long, at most, deliveries may trail the last recording. */
    drainMs: number;
  };
  overhead: {
    /** Events in the workspace whose first page is read. */
    events: number;
    /** Seconds per measurement. */
    seconds: number;
    /** Milliseconds of warm-up before each measurement. */
    warmupMs: number;
    concurrency: number;
  };
}

const FULL: SizeProfile = {
  size: "full",
  // Single-event ingest is too slow to send 200,000 events within a run, so each side stops after 2 minutes.
  ingest: { events: { 1: 200_000, 100: 200_000, 500: 200_000 }, maxMs: 120_000, shortRunMs: 15_000 },
  queries: { events: 2_000_000, deepPage: 100, requests: 1_000, warmup: 20, serviceWarmupMs: 30_000, maxMs: 20_000 },
  live: {
    scenarios: [
      { name: "1 subscriber", subscribers: 1, conversations: 1, eventsPerSecond: 10, redis: false },
      { name: "100 subscribers / 50 conversations", subscribers: 100, conversations: 50, eventsPerSecond: 20, redis: false },
      { name: "100 workspace subscribers", subscribers: 100, conversations: 0, eventsPerSecond: 20, redis: false },
      { name: "1,000 subscribers / 1 conversation", subscribers: 1_000, conversations: 1, eventsPerSecond: 10, p99TargetMs: 250, redis: true },
      { name: "5,000 subscribers / 50 conversations", subscribers: 5_000, conversations: 50, eventsPerSecond: 20, p99TargetMs: 100, redis: true },
    ],
    seconds: 30,
    drainMs: 10_000,
  },
  overhead: { events: 20_000, seconds: 15, warmupMs: 3_000, concurrency: 8 },
};

const SMOKE: SizeProfile = {
  size: "smoke",
  ingest: { events: { 1: 300, 100: 2_000, 500: 3_000 }, maxMs: 8_000, shortRunMs: 1_000 },
  queries: { events: 40_000, deepPage: 10, requests: 30, warmup: 3, serviceWarmupMs: 1_000, maxMs: 1_000 },
  live: {
    scenarios: [
      { name: "1 subscriber", subscribers: 1, conversations: 1, eventsPerSecond: 10, redis: false },
      { name: "20 subscribers / 10 conversations", subscribers: 20, conversations: 10, eventsPerSecond: 20, redis: false },
      { name: "10 workspace subscribers", subscribers: 10, conversations: 0, eventsPerSecond: 20, redis: false },
      { name: "100 subscribers / 1 conversation", subscribers: 100, conversations: 1, eventsPerSecond: 10, p99TargetMs: 250, redis: true },
      { name: "200 subscribers / 50 conversations", subscribers: 200, conversations: 50, eventsPerSecond: 20, p99TargetMs: 100, redis: true },
    ],
    seconds: 2,
    drainMs: 3_000,
  },
  overhead: { events: 2_000, seconds: 2, warmupMs: 500, concurrency: 8 },
};

export interface Options {
  profile: SizeProfile;
  parts: Part[];
  /** A results file to render docs/performance.md from, measuring nothing. */
  report?: string;
}

const USAGE =
  "usage: node dist/bench/run.js [--size full|smoke] [--only ingest,queries,live,overhead] | --report bench/results/<file>.json  (default: --size full, every part)";

export function parseOptions(argv: readonly string[]): Options {
  let size: Size = "full";
  let parts: Part[] = [...PARTS];
  let report: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--size": {
        const given = value();
        if (given !== "smoke" && given !== "full") throw new Error(`--size must be smoke or full. ${USAGE}`);
        size = given;
        break;
      }
      case "--only": {
        const given = (value() ?? "").split(",").map((part) => part.trim()).filter(Boolean);
        const unknown = given.filter((part) => !(PARTS as readonly string[]).includes(part));
        if (given.length === 0 || unknown.length > 0) throw new Error(`--only takes ${PARTS.join(",")}. ${USAGE}`);
        parts = PARTS.filter((part) => given.includes(part));
        break;
      }
      case "--report": {
        report = value();
        if (!report || !report.endsWith(".json")) throw new Error(`--report takes a results file (.json). ${USAGE}`);
        break;
      }
      case "--help":
      case "-h":
        throw new Error(USAGE);
      default:
        throw new Error(`unknown argument ${argv[i]}. ${USAGE}`);
    }
  }
  return { profile: size === "full" ? FULL : SMOKE, parts, ...(report ? { report } : {}) };
}
