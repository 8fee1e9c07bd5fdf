import type { Pool } from "mysql2/promise";
import { BenchContext, Role, token } from "./context";
import { untilLogged } from "./ingest";
import { closedLoop, GraphQLHttpClient, LoadResult, monotonicMs, operationBody, sleep } from "./load";

/**
 * The Merkle log on the queries' dataset: how fast an admin gets an event's
 * inclusion proof against the latest checkpoint (one client, random events
 * of the largest workspace), beside `auditEvent(id)` of the same events, and
 * the space the tree takes per event.
 */

const INCLUSION_PROOF = `query Inclusion($id: ID!) { auditEventInclusionProof(id: $id) { leafIndex leafHash auditPath checkpoint { treeSize rootHash signature } } }`;
const EVENT = `query Event($id: ID!) { auditEvent(id: $id) { id } }`;

export interface IntegrityResults {
  /** Events in the workspace whose proofs are measured: the size of the checkpoint they are proved against. */
  workspaceEvents: number;
  /** Until the log held every event, after the search index did. */
  loggedAfterMs: number;
  proofs: LoadResult;
  /** `auditEvent(id)` of the same events, one client: a single-event read through the same stack. */
  eventReads: LoadResult;
  /** merkle_tiles and merkle_checkpoints, data and indexes, over every event of the dataset. */
  space: { events: number; tileBytes: number; checkpointBytes: number; tileBytesPerEvent: number };
}

export async function measureIntegrity(
  context: BenchContext,
  options: { graphqlUrl: string; pool: Pool; workspace: string; requests: number; warmup: number; maxMs: number },
): Promise<IntegrityResults> {
  const { pool, workspace } = options;
  const loggedAfterMs = await untilLogged(pool);
  const [[{ last }]] = (await pool.query("SELECT last_seq AS last FROM workspaces WHERE id = ?", [workspace])) as unknown as [{ last: number }[]];
  const workspaceEvents = Number(last);
  // The service signs every second here (AUDIT_CHECKPOINT_INTERVAL): wait for the checkpoint of the whole log.
  const started = monotonicMs();
  for (;;) {
    const [[{ size }]] = (await pool.query("SELECT COALESCE(MAX(tree_size), 0) AS size FROM merkle_checkpoints WHERE workspace_id = ?", [workspace])) as unknown as [
      { size: number }[],
    ];
    if (Number(size) >= workspaceEvents) break;
    if (monotonicMs() - started > 120_000) throw new Error("no checkpoint covered the workspace's log within 2 minutes");
    await sleep(200);
  }
  const [picked] = (await pool.query(
    `SELECT e.id FROM audit_events AS e JOIN (SELECT FLOOR(1 + RAND(7) * ?) AS seq FROM audit_events WHERE workspace_id = ? LIMIT ?) AS r ON e.seq = r.seq
      WHERE e.workspace_id = ?`,
    [workspaceEvents, workspace, options.requests + options.warmup, workspace],
  )) as unknown as [{ id: string }[]];
  const ids = picked.map((row) => row.id);
  const adminToken = await token(context, Role.ADMIN, workspace);
  const client = new GraphQLHttpClient(options.graphqlUrl, 1);
  const measure = async (query: string) => {
    let next = 0;
    const run = () => client.expectData(operationBody(query, { id: ids[next++ % ids.length] }), adminToken);
    await closedLoop({ concurrency: 1, operations: options.warmup, maxMs: options.maxMs, run });
    return closedLoop({ concurrency: 1, operations: options.requests, maxMs: options.maxMs, run });
  };
  const proofs = await measure(INCLUSION_PROOF);
  const eventReads = await measure(EVENT);
  client.close();
  const [[{ events }]] = (await pool.query("SELECT COUNT(*) AS events FROM audit_events")) as unknown as [{ events: number }[]];
  const bytesOf = async (table: string) => {
    await pool.query(`ANALYZE TABLE ${table}`);
    const [[row]] = (await pool.query("SELECT data_length + index_length AS bytes FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?", [
      table,
    ])) as unknown as [{ bytes: number }[]];
    return Number(row.bytes);
  };
  const tileBytes = await bytesOf("merkle_tiles");
  const checkpointBytes = await bytesOf("merkle_checkpoints");
  context.log(
    `integrity: ${workspaceEvents} events logged ${loggedAfterMs} ms after the index; inclusion proof p50 ${proofs.latency.p50} / p95 ${proofs.latency.p95} ms, ` +
      `auditEvent p50 ${eventReads.latency.p50} / p95 ${eventReads.latency.p95} ms; tiles ${tileBytes} bytes for ${events} events`,
  );
  return {
    workspaceEvents,
    loggedAfterMs,
    proofs,
    eventReads,
    space: { events: Number(events), tileBytes, checkpointBytes, tileBytesPerEvent: Math.round((tileBytes / Number(events)) * 10) / 10 },
  };
}
