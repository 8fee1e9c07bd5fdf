import { DEFAULT_RATE_LIMITS } from "../src/config/config";
import { BenchContext, Role, token } from "./context";
import { RECORD_EVENTS } from "./ingest";
import { closedLoop, GraphQLHttpClient, LatencySummary, LoadResult, monotonicMs, operationBody, sleep } from "./load";
import { ServiceProcess } from "./processes";

/**
 * Fair sharing (the hardening issue): one token floods a service instance
 * with its most expensive pages from 8 clients while another token reads its
 * first page, a producer records and a probe polls `/readyz`, all against the
 * same instance, first without the flood, then with it. The instance runs
 * with the documented default budgets (the rest of the bench lifts them).
 */

/** What a flood-time measurement is compared with: the same, without the flood. */
export interface FairnessResults {
  budgets: typeof DEFAULT_RATE_LIMITS;
  /** Other users' first page, c=1, each user a page or two. */
  page: { idle: LatencySummary; flooded: LatencySummary; errors: number };
  /** Recording calls of 10 events, c=1. */
  recording: { idle: LatencySummary; flooded: LatencySummary; errors: number };
  /** `/readyz` polled every 50 ms during the flood. */
  readyz: { checks: number; notReady: number };
  /** The flooding token's requests: answered, and refused with 429. */
  flood: { requests: number; rateLimited: number; perSecond: number; costPoints: number | null };
}

const SIZES = {
  full: { pages: 500, recordings: 300 },
  smoke: { pages: 30, recordings: 20 },
};

/** Runs on a database that holds the queries part's dataset; `workspace` is its largest workspace, `query` a screen's page. */
export async function runFairness(
  context: BenchContext,
  options: { databaseUrl: string; workspace: string; pageQuery: string; floodQuery: string; events: (n: number) => unknown[] },
): Promise<FairnessResults> {
  const size = SIZES[context.size];
  const { user, service: producerBudget } = DEFAULT_RATE_LIMITS;
  const environment = {
    RATE_LIMIT_POINTS: String(user.capacity),
    RATE_LIMIT_POINTS_PER_SECOND: String(user.refillPerSecond),
    RATE_LIMIT_SERVICE_POINTS: String(producerBudget.capacity),
    RATE_LIMIT_SERVICE_POINTS_PER_SECOND: String(producerBudget.refillPerSecond),
    RATE_LIMIT_REFUSAL_DELAY_MS: String(DEFAULT_RATE_LIMITS.refusalDelayMs),
  };
  const service = await ServiceProcess.start({ main: context.serviceMain, databaseUrl: options.databaseUrl, secret: context.secret, environment, searchIndexing: false });
  const flooder = await token(context, Role.ADMIN, options.workspace, "flooder");
  // Other users, each reading a page now and then as people do: one token's budget (about 15 such pages a second) is not what is measured here.
  const readers = await Promise.all(Array.from({ length: size.pages }, (_, n) => token(context, Role.ADMIN, options.workspace, `reader-${n}`)));
  const producer = await token(context, Role.SERVICE, options.workspace, "fairness-producer");
  const client = new GraphQLHttpClient(service.graphqlUrl, 12);
  try {
    const pageBody = operationBody(options.pageQuery, { first: 50 });
    let recorded = 0;
    const recordBody = () => operationBody(RECORD_EVENTS, { events: options.events(recorded++) });
    const measurePage = () => closedLoop({ concurrency: 1, operations: size.pages, maxMs: 120_000, run: (n) => client.expectData(pageBody, readers[n]) });
    const measureRecording = () => closedLoop({ concurrency: 1, operations: size.recordings, maxMs: 120_000, run: () => client.expectData(recordBody(), producer) });
    // Warm: the first requests compile the documents.
    await closedLoop({ concurrency: 1, operations: 50, maxMs: 30_000, run: (n) => client.expectData(pageBody, readers[n]) });
    await closedLoop({ concurrency: 1, operations: 20, maxMs: 30_000, run: () => client.expectData(recordBody(), producer) });
    const idlePage = await measurePage();
    const idleRecording = await measureRecording();
    await sleep(2_000);

    let flooding = true;
    let floodRequests = 0;
    let rateLimited = 0;
    let floodCost: number | null = null;
    const floodBody = operationBody(options.floodQuery, {});
    const floodStarted = monotonicMs();
    const flood = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (flooding) {
          const { status, text } = await client.post(floodBody, flooder);
          floodRequests += 1;
          if (status === 429) rateLimited += 1;
          else if (status === 200 && floodCost === null) floodCost = (JSON.parse(text) as { extensions?: { cost?: { requested?: number } } }).extensions?.cost?.requested ?? null;
        }
      }),
    );
    let checks = 0;
    let notReady = 0;
    const probe = (async () => {
      while (flooding) {
        const { status } = await fetch(service.readyUrl).then(
          (response) => ({ status: response.status }),
          () => ({ status: 0 }),
        );
        checks += 1;
        if (status !== 200) notReady += 1;
        await sleep(50);
      }
    })();
    // Let the flood take hold (the burst spent, 429s coming back) before measuring.
    await sleep(2_000);
    let floodedPage: LoadResult;
    let floodedRecording: LoadResult;
    try {
      floodedPage = await measurePage();
      floodedRecording = await measureRecording();
    } finally {
      flooding = false;
      await Promise.all([flood, probe]);
    }
    const floodSeconds = (monotonicMs() - floodStarted) / 1000;
    context.log(
      `fairness: other token's page p95 ${idlePage.latency.p95} ms idle, ${floodedPage.latency.p95} ms flooded; recording p99 ${idleRecording.latency.p99} ms idle, ${floodedRecording.latency.p99} ms flooded; ` +
        `/readyz not ready ${notReady} of ${checks}; flood ${floodRequests} requests (${rateLimited} refused with 429)`,
    );
    return {
      budgets: DEFAULT_RATE_LIMITS,
      page: { idle: idlePage.latency, flooded: floodedPage.latency, errors: idlePage.errors + floodedPage.errors },
      recording: { idle: idleRecording.latency, flooded: floodedRecording.latency, errors: idleRecording.errors + floodedRecording.errors },
      readyz: { checks, notReady },
      flood: { requests: floodRequests, rateLimited, perSecond: Math.round(floodRequests / floodSeconds), costPoints: floodCost },
    };
  } finally {
    client.close();
    await service.stop();
  }
}
