import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import Redis from "ioredis";
import { REDIS_SERVER } from "./programs";

/** A private redis-server for one test file, on a free port, that a test can stop and start again. */
export class RedisProcess {
  private child?: ChildProcess;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort());
    await redis.start();
    return redis;
  }

  async start(): Promise<void> {
    this.child = spawn(REDIS_SERVER.executable, ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => undefined);
      try {
        await client.connect();
        await client.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        client.disconnect();
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** A plain client, to look at the server (PUBSUB NUMSUB, ...). */
  client(): Redis {
    return new Redis(this.url, { maxRetriesPerRequest: 1 });
  }
}

/**
 * A private redis-server for the enclosing `describe`: started before its
 * tests, stopped after. The process is there once the tests run (servers set
 * up later in the same `describe` may use its URL).
 */
export function useRedisProcess(): { readonly process: RedisProcess } {
  const holder = {} as { process: RedisProcess };
  beforeAll(async () => {
    holder.process = await RedisProcess.start();
  });
  afterAll(async () => {
    await holder.process?.stop();
  });
  return holder;
}

/** A TCP port nothing listens on now. */
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
