import { readFileSync } from "node:fs";
import { round } from "./stats";

/**
 * Where the service's time goes: a `--cpu-prof` profile reduced to self time
 * by package (or service folder) and by function, over a time window.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  percent: number;
}

export interface ProfileSummary {
  /** Samples in the window and the time they cover. */
  samples: number;
  windowMs: number;
  /** Whether samples were cut to the load's window (else the whole profile, startup included). */
  windowed: boolean;
  /** Share of the window the main thread was idle (waiting on I/O). */
  idlePercent: number;
  /** Self time by package or service folder, in percent of busy time. */
  byPackage: Share[];
  /** Self time by function, in percent of busy time. */
  topFunctions: Share[];
}

/** The package of a script URL: an npm package, a node core module, or a folder of the service. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (functionName === "(garbage collector)") return "(garbage collector)";
  if (functionName === "(program)") return "(program: V8 and native code outside JS functions)";
  if (url === "") return "(V8 builtins and native functions)";
  if (url.startsWith("node:")) return "node core";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const service = /\/dist\/(src\/[^/]+)\//.exec(url);
  if (service) return `service ${service[1]}`;
  return url.replace(/^file:\/\//, "");
}

function location(frame: CallFrame): string {
  const short = frame.url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "").replace(/^.*\/dist\//, "dist/");
  return short ? `${short}:${frame.lineNumber + 1}` : "";
}

/**
 * Summarizes the samples between two monotonic instants (microseconds, the
 * clock V8 stamps samples with on Linux); the whole profile when the window
 * does not overlap it.
 */
export function summarizeProfile(file: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const overlaps = window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  const self = new Map<number, number>();
  let time = profile.startTime;
  let windowUs = 0;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    const duration = profile.timeDeltas[i + 1] ?? 0;
    if (overlaps && (time < window.fromUs || time > window.toUs)) continue;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + duration);
    windowUs += duration;
    samples += 1;
  }
  let idle = 0;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = frames.get(id)!;
    if (frame.functionName === "(idle)") {
      idle += us;
      continue;
    }
    const pkg = packageOf(frame);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const name = `${frame.functionName || "(anonymous)"}${location(frame) ? ` ${location(frame)}` : ""}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  }
  const busy = windowUs - idle;
  const top = (map: Map<string, number>, count: number): Share[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, us]) => ({ name, percent: round((us / busy) * 100, 1) }));
  return {
    samples,
    windowMs: round(windowUs / 1000, 1),
    windowed: overlaps,
    idlePercent: round((idle / Math.max(1, windowUs)) * 100, 1),
    byPackage: top(byPackage, 12),
    topFunctions: top(byFunction, 15),
  };
}
