import type { IngestResults } from "./ingest";
import type { LiveResults } from "./live-tail";
import type { MachineFacts } from "./machine";
import type { MachineSpeed } from "./machine-speed";
import type { Part, Size } from "./options";
import type { OverheadResults } from "./overhead";
import type { QueryResults } from "./queries";

/** Everything one run measured: the JSON under bench/results, and what docs/performance.md is written from. */
export interface BenchResults {
  format: 1;
  size: Size;
  parts: Part[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  machine: MachineFacts;
  /** Reference work timed before the first part and after the last (absent from runs made before it was measured). */
  speed?: { start: MachineSpeed; end: MachineSpeed };
  ingest?: IngestResults;
  queries?: QueryResults;
  live?: LiveResults;
  overhead?: OverheadResults;
  /** Parts that failed, with the error. */
  failures: { part: Part; message: string }[];
}
