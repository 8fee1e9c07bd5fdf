import type { FormattedExecutionResult } from "graphql";
import { Client, createClient, SubscribePayload } from "graphql-ws";
import WebSocket from "ws";

/** A raw graphql-transport-ws socket that keeps every message and the close, so none is missed. */
export class QueuedSocket {
  private readonly messages: unknown[] = [];
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(readonly socket: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(data.toString()));
      this.wake();
    });
  }

  static async open(url: string): Promise<QueuedSocket> {
    const queued = new QueuedSocket(new WebSocket(url, "graphql-transport-ws"));
    await queued.opened;
    return queued;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message, in arrival order; rejects after `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error("socket closed with no further message");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages.shift() as Record<string, unknown>;
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** A graphql-ws client whose operations queue their results. */
export interface TestWsClient {
  client: Client;
  /** Resolves once the connection is acknowledged; rejects with the close event if it is refused. */
  connected: Promise<void>;
  /** The close event of the first closure. */
  closed: Promise<{ code: number; reason: string }>;
  /** Runs a query or mutation and returns its single result. */
  execute<T = Record<string, unknown>>(payload: SubscribePayload): Promise<FormattedExecutionResult<T, unknown>>;
  /** Starts a subscription; results queue until read. */
  subscribe<T = Record<string, unknown>>(payload: SubscribePayload): TestSubscription<T>;
  dispose(): Promise<void>;
}

export interface TestSubscription<T> {
  next(timeoutMs?: number): Promise<FormattedExecutionResult<T, unknown>>;
  /** Resolves when the server completes the operation. */
  completed: Promise<void>;
  unsubscribe(): void;
}

/** graphql-ws's own client against the real server, no retries, lazy off so failures show at once. */
export function createTestWsClient(url: string, connectionParams?: Record<string, unknown>): TestWsClient {
  let acknowledge: () => void;
  let refuse: (reason: unknown) => void;
  let closedResolve: (event: { code: number; reason: string }) => void;
  const connected = new Promise<void>((resolve, reject) => {
    acknowledge = resolve;
    refuse = reject;
  });
  connected.catch(() => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    closedResolve = resolve;
  });
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    on: {
      connected: () => acknowledge(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        closedResolve({ code, reason });
        refuse({ code, reason });
      },
    },
  });
  return {
    client,
    connected,
    closed,
    async execute<T>(payload: SubscribePayload) {
      const results: FormattedExecutionResult<T, unknown>[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe<T>(payload, {
          next: (result) => results.push(result),
          error: reject,
          complete: resolve,
        });
      });
      return results[0];
    },
    subscribe<T>(payload: SubscribePayload): TestSubscription<T> {
      const queue: FormattedExecutionResult<T, unknown>[] = [];
      let wake: (() => void) | undefined;
      let failure: unknown;
      let complete!: () => void;
      const completed = new Promise<void>((resolve) => {
        complete = resolve;
      });
      const unsubscribe = client.subscribe<T>(payload, {
        next: (result) => {
          queue.push(result);
          wake?.();
        },
        error: (error) => {
          failure = error;
          wake?.();
        },
        complete: () => {
          complete();
          wake?.();
        },
      });
      return {
        completed,
        unsubscribe,
        async next(timeoutMs = 5_000) {
          const deadline = Date.now() + timeoutMs;
          while (queue.length === 0) {
            if (failure) throw failure;
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`no result within ${timeoutMs} ms`);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
          }
          return queue.shift()!;
        },
      };
    },
    dispose: async () => {
      await client.dispose();
    },
  };
}
