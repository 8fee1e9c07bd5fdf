import { ChildProcess, fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import WebSocket from "ws";
import { serviceEnvironment } from "./context";
import { sleep } from "./load";

/**
 * The processes a run starts: service instances (`node dist/src/main.js`, so
 * that the load generator never shares their event loop), a private
 * redis-server, and the bench's helper scripts. Each is stopped by its pid.
 */

/** This checkout's service build. */
export const SERVICE_MAIN = path.join(__dirname, "..", "src", "main.js");
const running = new Set<ChildProcess>();

// A run that dies must not leave services holding database connections.
process.on("exit", () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resident set size from /proc (Linux); NaN elsewhere. */
function rssBytes(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

/** CPU time (user and system) a process has used, in seconds, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * How many files (sockets included) a process started by this one may hold
 * open: the soft limit it inherits, from /proc (Linux); Infinity elsewhere or
 * when unlimited.
 */
export function openFileLimit(): number {
  try {
    const soft = /^Max open files\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    return soft === undefined || soft === "unlimited" ? Infinity : Number(soft);
  } catch {
    return Infinity;
  }
}

/** The last bytes a stream wrote, for error messages. */
function tail(stream: NodeJS.ReadableStream | null): () => string {
  let text = "";
  stream?.on("data", (chunk: Buffer) => (text = (text + chunk.toString("utf8")).slice(-8_192)));
  return () => text;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
  running.delete(child);
}

export async function stopAllProcesses(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child, 5_000)));
}

function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 5_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve({ status: 0, text: "" }));
  });
}

/** A child process of the run: its RSS, and a stop that waits for its exit. */
class Child {
  constructor(
    protected readonly child: ChildProcess,
    /** How long SIGTERM gets before SIGKILL. */
    private readonly graceMs: number,
  ) {}

  rss(): number {
    return rssBytes(this.child.pid!);
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid!);
  }

  async stop(): Promise<void> {
    await stopChild(this.child, this.graceMs);
  }
}

/** One service instance, as `npm start` runs it; SIGTERM drains it, SIGKILL follows after 20 s. */
export class ServiceProcess extends Child {
  private constructor(
    child: ChildProcess,
    private readonly port: number,
    private readonly inspectorPort: number | null,
  ) {
    super(child, 20_000);
  }

  /** `inspect`: open the inspector on a private port, so that {@link collectGarbage} can run. */
  /** `environment`: variables over the bench's own (serviceEnvironment), such as budgets. */
  static async start(options: {
    main: string;
    databaseUrl: string;
    secret: string;
    redisUrl?: string;
    inspect?: boolean;
    searchIndexing?: boolean;
    merkleLog?: boolean;
    environment?: Record<string, string>;
  }): Promise<ServiceProcess> {
    const port = await freePort();
    const inspectorPort = options.inspect ? await freePort() : null;
    const child = spawn(process.execPath, [...(inspectorPort ? [`--inspect=127.0.0.1:${inspectorPort}`] : []), options.main], {
      env: {
        PATH: process.env.PATH ?? "",
        ...serviceEnvironment(options.secret, options.databaseUrl),
        PORT: String(port),
        ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
        ...(options.searchIndexing === false ? { SEARCH_INDEXING: "false" } : {}),
        ...(options.merkleLog === false ? { MERKLE_LOG: "false" } : {}),
        ...options.environment,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    running.add(child);
    const output = tail(child.stderr);
    const service = new ServiceProcess(child, port, inspectorPort);
    for (const deadline = Date.now() + 30_000; (await get(`http://127.0.0.1:${port}/readyz`)).status !== 200; await sleep(100)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await service.stop();
        throw new Error(`the service did not become ready: ${output()}`);
      }
    }
    return service;
  }

  get graphqlUrl(): string {
    return `http://127.0.0.1:${this.port}/graphql`;
  }

  get readyUrl(): string {
    return `http://127.0.0.1:${this.port}/readyz`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/graphql`;
  }

  /** Two full garbage collections through the inspector, so that an RSS read after it holds no garbage. */
  async collectGarbage(): Promise<void> {
    if (this.inspectorPort === null) throw new Error("the service was started without the inspector");
    const [target] = JSON.parse((await get(`http://127.0.0.1:${this.inspectorPort}/json/list`)).text) as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    try {
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      for (const id of [1, 2]) {
        const done = new Promise<void>((resolve) => socket.on("message", (data) => (JSON.parse(data.toString()).id === id ? resolve() : undefined)));
        socket.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
        await done;
      }
    } finally {
      socket.close();
    }
  }
}

/** A private redis-server on a free port that keeps nothing on disk. */
export class RedisProcess extends Child {
  private constructor(
    child: ChildProcess,
    readonly url: string,
  ) {
    super(child, 5_000);
  }

  static async start(): Promise<RedisProcess> {
    const port = await freePort();
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "ignore"] });
    running.add(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once("error", () => reject(new Error("redis-server is not installed")));
      child.stdout!.on("data", (chunk: Buffer) => (chunk.toString().includes("Ready to accept connections") ? resolve() : undefined));
      setTimeout(() => reject(new Error(`redis-server did not start on port ${port}`)), 10_000).unref();
    });
    const redis = new RedisProcess(child, `redis://127.0.0.1:${port}`);
    await ready.catch(async (error: unknown) => {
      await redis.stop();
      throw error;
    });
    return redis;
  }
}

/** A bench script (dist/bench/<name>.js) in its own process, spoken to over IPC. */
export class HelperProcess<TMessage extends { type: string }> extends Child {
  private readonly inbox: TMessage[] = [];
  private wake: () => void = () => undefined;
  private readonly stderr: () => string;

  private constructor(child: ChildProcess) {
    super(child, 5_000);
    child.on("message", (message) => {
      this.inbox.push(message as TMessage);
      this.wake();
    });
    child.on("exit", () => this.wake());
    this.stderr = tail(child.stderr);
  }

  static start<TMessage extends { type: string }>(script: string, nodeArgs: string[] = []): HelperProcess<TMessage> {
    const child = fork(path.join(__dirname, `${script}.js`), [], { execArgv: nodeArgs, stdio: ["ignore", "inherit", "pipe", "ipc"], serialization: "advanced" });
    running.add(child);
    return new HelperProcess<TMessage>(child);
  }

  /** Waits for the next message of this type; an `error` message from the helper rejects. */
  async receive<T extends TMessage["type"]>(type: T, timeoutMs: number): Promise<Extract<TMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex((message) => message.type === type || message.type === "error");
      if (index >= 0) {
        const [message] = this.inbox.splice(index, 1);
        if (message.type === "error") throw new Error(`helper: ${(message as unknown as { message: string }).message}`);
        return message as Extract<TMessage, { type: T }>;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`helper exited: ${this.stderr()}`);
      if (Date.now() > deadline) throw new Error(`helper sent no ${type} within ${timeoutMs} ms: ${this.stderr()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async request<T extends TMessage["type"]>(message: unknown, replyType: T, timeoutMs: number): Promise<Extract<TMessage, { type: T }>> {
    this.child.send(message as object);
    return this.receive(replyType, timeoutMs);
  }
}
