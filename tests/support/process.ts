import { ChildProcess, spawn } from "node:child_process";
import path from "node:path";

/** The built entry point: `npm test` builds before jest runs. */
export const MAIN = path.resolve(__dirname, "..", "..", "dist", "src", "main.js");

export interface ServiceProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node dist/src/main.js` with the given environment (on top of a clean one), and Node options before the script. */
export function runService(env: Record<string, string>, nodeOptions: string[] = []): ServiceProcess {
  const child = spawn(process.execPath, [...nodeOptions, MAIN], {
    env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "info", NODE_ENV: "test", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits for the "listening" log line and returns the service's base URL. */
export async function waitUntilListening(service: ServiceProcess, timeoutMs = 20_000): Promise<string> {
  return (await listening(service, timeoutMs)).url.replace(/\/graphql$/, "");
}

/** Where a service started with METRICS_PORT serves its metrics, from its "listening" log line. */
export async function metricsUrlOf(service: ServiceProcess): Promise<string> {
  const { metrics } = await listening(service);
  if (!metrics) throw new Error("the service serves no metrics: start it with METRICS_PORT");
  return metrics;
}

async function listening(service: ServiceProcess, timeoutMs = 20_000): Promise<{ url: string; metrics?: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const line of service.stdout().split("\n")) {
      if (!line.includes("listening")) continue;
      const logged = JSON.parse(line) as { url?: string; metrics?: string };
      if (logged.url) return { url: logged.url, metrics: logged.metrics };
    }
    if (service.child.exitCode !== null) throw new Error(`service exited: ${service.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`service did not listen within ${timeoutMs} ms: ${service.stderr()}`);
}
