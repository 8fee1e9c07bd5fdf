import { ChildProcess, fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import Redis from "ioredis";
import WebSocket from "ws";
import { authEnvironment } from "./context";
import { sleep, withTimeout } from "./stats";

/**
 * The processes a run starts: service instances (`node dist/src/main.js`, the
 * production entry point, so that the load generator never shares their event
 * loop), a private redis-server, and the benchmark's own helper scripts.
 * Every one is stopped by its pid at the end of its part, or at exit.
 */

/** The built service entry point: dist/bench -> dist/src/main.js. */
export const SERVICE_MAIN = path.join(__dirname, "..", "src", "main.js");

const running = new Set<ChildProcess>();

// A run that dies unexpectedly must not leave services holding database connections behind.
process.on("exit", () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size of a process, from /proc (Linux); NaN elsewhere. */
export function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Keeps the last bytes a stream wrote, for error messages. */
function tail(stream: NodeJS.ReadableStream | null, limit = 16_384): () => string {
  let text = "";
  stream?.on("data", (chunk: Buffer) => {
    text = (text + chunk.toString("utf8")).slice(-limit);
  });
  return () => text;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    running.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  try {
    await withTimeout(exited, graceMs, `process ${child.pid} to exit`);
  } catch {
    child.kill("SIGKILL");
    await withTimeout(exited, 5_000, `process ${child.pid} to die`).catch(() => undefined);
  }
  running.delete(child);
}

/** Stops every process this run started and that still runs. */
export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child, 5_000)));
}

export interface ServiceProcessOptions {
  /** DATABASE_URL of the bench database. */
  databaseUrl: string;
  /** AUTH_JWT_SECRET shared with the bench, which signs the tokens (with the issuer and audience of {@link authEnvironment}). */
  secret: string;
  redisUrl?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /**
   * Open the inspector on a private local port, so that the bench can run a
   * full garbage collection before it reads the RSS (see collectGarbage).
   */
  inspect?: boolean;
}

/** One instance of the service, as `npm start` runs it (NODE_ENV=production, migrations off: the bench applied them). */
export class ServiceProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly stderr: () => string,
    readonly stdout: () => string,
    private readonly inspectorPort: number | null,
  ) {}

  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const port = await freePort();
    const inspectorPort = options.inspect ? await freePort() : null;
    const inspectArgs = inspectorPort === null ? [] : [`--inspect=127.0.0.1:${inspectorPort}`];
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...inspectArgs, SERVICE_MAIN], {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        PORT: String(port),
        DATABASE_URL: options.databaseUrl,
        DB_MIGRATE: "false",
        ...authEnvironment(options.secret),
        LOG_LEVEL: "warn",
        ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    const service = new ServiceProcess(child, port, tail(child.stderr), tail(child.stdout), inspectorPort);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}: ${service.stderr() || service.stdout()}`);
      if ((await httpStatus(`${service.url}/readyz`)) === 200) return service;
      if (Date.now() > deadline) {
        await service.stop();
        throw new Error(`the service was not ready within 30 s: ${service.stderr() || service.stdout()}`);
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get graphqlUrl(): string {
    return `${this.url}/graphql`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/graphql`;
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  /**
   * A full garbage collection in the service (through its inspector), then
   * its V8 heap use in bytes; NaN when the process was not started with
   * `inspect`.
   */
  async collectGarbage(): Promise<number> {
    if (this.inspectorPort === null) return NaN;
    const targets = JSON.parse(await httpText(`http://127.0.0.1:${this.inspectorPort}/json/list`)) as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
    try {
      await withTimeout(new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      }), 5_000, "the service's inspector");
      let id = 0;
      const call = (method: string) =>
        withTimeout(
          new Promise<Record<string, unknown>>((resolve) => {
            const callId = ++id;
            const onMessage = (data: WebSocket.RawData) => {
              const message = JSON.parse(data.toString()) as { id?: number; result?: Record<string, unknown> };
              if (message.id !== callId) return;
              socket.off("message", onMessage);
              resolve(message.result ?? {});
            };
            socket.on("message", onMessage);
            socket.send(JSON.stringify({ id: callId, method }));
          }),
          30_000,
          method,
        );
      await call("HeapProfiler.collectGarbage");
      await call("HeapProfiler.collectGarbage");
      const usage = await call("Runtime.getHeapUsage");
      return Number(usage.usedSize);
    } finally {
      socket.close();
    }
  }

  /** SIGTERM (the service drains and exits 0, writing a --cpu-prof profile), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    await stopChild(this.child, 20_000);
  }
}

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url}`)));
    request.on("error", reject);
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(0));
  });
}

/** A private redis-server on a free port that keeps nothing on disk. */
export class RedisProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisProcess> {
    const port = await freePort();
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    const failed = new Promise<never>((_, reject) => child.once("error", (error) => reject(error)));
    failed.catch(() => undefined);
    running.add(child);
    const redis = new RedisProcess(child, port);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => undefined);
      try {
        await Promise.race([client.connect().then(() => client.ping()), failed]);
        return redis;
      } catch (error) {
        if ((error as { code?: string }).code === "ENOENT") throw new Error("redis-server is not installed (apt-get install redis-server)");
        if (Date.now() > deadline) {
          await redis.stop();
          throw new Error(`redis-server did not answer on ${port}`);
        }
        await sleep(50);
      } finally {
        client.disconnect();
      }
    }
  }

  async version(): Promise<string> {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    try {
      const info = await client.info("server");
      return /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 5_000);
  }
}

/**
 * A benchmark script (dist/bench/<name>.js) in its own process, spoken to
 * over IPC: `request` sends a message and waits for the reply of a type.
 */
export class HelperProcess<TMessage extends { type: string }> {
  private readonly inbox: TMessage[] = [];
  private waiters: (() => void)[] = [];
  private readonly stderr: () => string;

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (message) => {
      this.inbox.push(message as TMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.on("exit", () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.stderr = tail(child.stderr);
  }

  static start<TMessage extends { type: string }>(script: string, nodeArgs: string[] = [], env: Record<string, string> = {}): HelperProcess<TMessage> {
    const child = fork(path.join(__dirname, `${script}.js`), [], {
      execArgv: nodeArgs,
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      serialization: "advanced",
    });
    running.add(child);
    return new HelperProcess<TMessage>(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(message: unknown): void {
    this.child.send(message as object);
  }

  /** Waits for the next message of this type (an `error` message from the helper rejects). */
  async receive<T extends TMessage["type"]>(type: T, timeoutMs: number): Promise<Extract<TMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex((message) => message.type === type || message.type === "error");
      if (index >= 0) {
        const [message] = this.inbox.splice(index, 1);
        if (message.type === "error") throw new Error(`helper ${this.child.pid}: ${(message as unknown as { message: string }).message}`);
        return message as Extract<TMessage, { type: T }>;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`helper ${this.child.pid} exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`helper ${this.child.pid} sent no ${type} within ${timeoutMs} ms: ${this.stderr()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async request<T extends TMessage["type"]>(message: unknown, replyType: T, timeoutMs: number): Promise<Extract<TMessage, { type: T }>> {
    this.send(message);
    return this.receive(replyType, timeoutMs);
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 5_000);
  }
}
